package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-run/drover/internal/store"
)

// A database that a newer drover migrated is refused at open, with a
// message that names the unknown migrations; its status still reads.
func TestSchemaNewerThanBinaryIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "drover.db")
	before, err := SchemaStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v := store.SchemaVersion(before); v != 0 || len(before) == 0 {
		t.Fatalf("status of a new database: version %d, %d migrations; want 0 and all pending", v, len(before))
	}
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := before[len(before)-1].Version
	if got := store.SchemaVersion(s.Schema()); got != want {
		t.Errorf("SchemaVersion after open = %d, want %d", got, want)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	_, err = Open(ctx, path, Options{})
	var tooNew *store.SchemaTooNewError
	if !errors.As(err, &tooNew) || !strings.Contains(err.Error(), "9999_future") {
		t.Fatalf("Open of a database with an unknown migration = %v, want a SchemaTooNewError naming 9999_future", err)
	}
	ms, err := SchemaStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if last := ms[len(ms)-1]; last.Version != 9999 || last.Known {
		t.Errorf("status's last migration = %+v, want 9999 unknown", last)
	}
}
