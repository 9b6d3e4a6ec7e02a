package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

func TestFilePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"/var/lib/drover/drover.db", "/var/lib/drover/drover.db", false},
		{"drover-data/drover.db", "drover-data/drover.db", false},
		{"sqlite:///var/lib/drover/drover.db", "/var/lib/drover/drover.db", false},
		{"sqlite://drover-data/drover.db", "drover-data/drover.db", false},
		{"sqlite:drover.db", "drover.db", false},
		{"", "", true},
		{":memory:", "", true},
		{"sqlite://", "", true},
		{"/tmp/x.db?mode=ro", "", true},
	}
	for _, tt := range tests {
		got, err := filePath(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("filePath(%q) = %q, %v; want %q, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestOpenPragmas(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sync string
		want int // PRAGMA synchronous reads back as a number
	}{{"", 1}, {"normal", 1}, {"FULL", 2}} {
		s := openTemp(t, Options{Synchronous: c.sync})
		for _, db := range []*sql.DB{s.write, s.read} {
			var journal string
			var sync, fk int
			row := db.QueryRow(`SELECT (SELECT journal_mode FROM pragma_journal_mode), (SELECT synchronous FROM pragma_synchronous), (SELECT foreign_keys FROM pragma_foreign_keys)`)
			if err := row.Scan(&journal, &sync, &fk); err != nil {
				t.Fatalf("reading pragmas: %v", err)
			}
			if journal != "wal" || sync != c.want || fk != 1 {
				t.Errorf("Open(Synchronous %q): journal_mode %s, synchronous %d, foreign_keys %d; want wal, %d, 1", c.sync, journal, sync, fk, c.want)
			}
		}
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), Options{Synchronous: "sometimes"}); err == nil {
		t.Errorf("Open(Synchronous \"sometimes\") succeeded, want an error")
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "drover.db")
	ctx := t.Context()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	task := benchTask(start())
	if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{task}}); err != nil {
		t.Fatalf("TaskInsertMany() error = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	s = openPath(t, path)
	got, err := s.TaskGet(ctx, task.ID)
	if err != nil {
		t.Fatalf("TaskGet() after reopen error = %v", err)
	}
	if diff := cmp.Diff(task, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("TaskGet() after reopen mismatch (-want +got):\n%s", diff)
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("loadMigrations() error = %v", err)
	}
	var applied int
	if err := s.read.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatalf("counting migrations: %v", err)
	}
	if applied != len(ms) {
		t.Errorf("schema_migrations has %d rows after two opens, want %d", applied, len(ms))
	}
	if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{benchTask(start())}}); err != nil {
		t.Errorf("TaskInsertMany() after reopen error = %v", err)
	}
}

func openPath(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open(%s) error = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestGroupCommitIsolatesFailures queues three requests behind a blocked
// one, so that they share a transaction: the one that fails after writing
// must roll back alone.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	s := openTemp(t, Options{})
	ctx := t.Context()
	errBoom := errors.New("boom")
	release := make(chan struct{})
	blocker := newRequest(ctx, func(ctx context.Context, tx *sql.Tx) error { <-release; return nil })
	ok1, ok2 := newRequest(ctx, insertKV("ok1")), newRequest(ctx, insertKV("ok2"))
	failing := newRequest(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := insertKV("failed")(ctx, tx); err != nil {
			return err
		}
		return errBoom
	})
	dup := newRequest(ctx, insertKV("ok1")) // a constraint error inside the batch

	mustEnqueue(t, s, blocker)
	mustEnqueue(t, s, ok1, failing, dup, ok2) // waiting while blocker runs
	close(release)

	for _, c := range []struct {
		name string
		r    *writeRequest
		want error
	}{{"blocker", blocker, nil}, {"ok1", ok1, nil}, {"failing", failing, errBoom}, {"ok2", ok2, nil}} {
		if err := <-c.r.done; !errors.Is(err, c.want) {
			t.Errorf("request %s: error = %v, want %v", c.name, err, c.want)
		}
	}
	if err := interpretError(<-dup.done); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("request dup: error = %v, want ErrConflict", err)
	}
	for key, want := range map[string]bool{"ok1": true, "ok2": true, "failed": false} {
		_, err := s.KVGet(ctx, key)
		if got := err == nil; got != want {
			t.Errorf("KVGet(%s) present = %t (err %v), want %t", key, got, err, want)
		}
	}
}

// TestCancelledCallerDoesNotAbortTheBatch: a caller that gives up while its
// write runs must not take down the transaction it shares with others.
// SQLite rolls back a whole transaction when a write in it is interrupted,
// which a cancelled statement context does.
func TestCancelledCallerDoesNotAbortTheBatch(t *testing.T) {
	t.Parallel()
	s := openTemp(t, Options{})
	ctx := t.Context()
	release := make(chan struct{})
	blocker := newRequest(ctx, func(ctx context.Context, tx *sql.Tx) error { <-release; return nil })
	callerCtx, hangUp := context.WithCancel(ctx)
	defer hangUp()
	slow := newRequest(callerCtx, func(ctx context.Context, tx *sql.Tx) error {
		// A write that takes a while; its caller hangs up while it runs.
		time.AfterFunc(5*time.Millisecond, hangUp)
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000)
			INSERT INTO kv (key, value, updated_at) SELECT 'slow', count(*), 0 FROM c`)
		return err
	})
	before, after := newRequest(ctx, insertKV("before")), newRequest(ctx, insertKV("after"))
	mustEnqueue(t, s, blocker)
	mustEnqueue(t, s, before, slow, after)
	close(release)
	for name, r := range map[string]*writeRequest{"blocker": blocker, "before": before, "slow": slow, "after": after} {
		if err := <-r.done; err != nil {
			t.Errorf("request %s: error = %v, want nil", name, err)
		}
	}
	for _, key := range []string{"before", "slow", "after"} {
		if _, err := s.KVGet(ctx, key); err != nil {
			t.Errorf("KVGet(%s) error = %v: the batch's writes were lost", key, err)
		}
	}
}

// insertKV is a write request's work: one kv row.
func insertKV(key string) txFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (key, value, updated_at) VALUES ($1, '1', 0)`, key)
		return err
	}
}

func newRequest(ctx context.Context, fn txFunc) *writeRequest {
	return &writeRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
}

func mustEnqueue(t *testing.T, s *Store, rs ...*writeRequest) {
	t.Helper()
	for _, r := range rs {
		if err := s.committer.enqueue(t.Context(), r); err != nil {
			t.Fatalf("enqueue() error = %v", err)
		}
	}
}

func TestCloseWaitsForQueuedWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "drover.db")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	release := make(chan struct{})
	blocker := newRequest(t.Context(), func(ctx context.Context, tx *sql.Tx) error { <-release; return nil })
	queued := newRequest(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (key, value, updated_at) VALUES ('queued', '1', 0)`)
		return err
	})
	mustEnqueue(t, s, blocker, queued)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if err := <-queued.done; err != nil {
		t.Errorf("queued write: error = %v, want nil", err)
	}
	if err := s.KVPut(t.Context(), "late", []byte(`1`)); !errors.Is(err, errClosed) {
		t.Errorf("KVPut() after Close error = %v, want %v", err, errClosed)
	}
	if _, err := openPath(t, path).KVGet(t.Context(), "queued"); err != nil {
		t.Errorf("KVGet(queued) after reopen error = %v", err)
	}
}

// TestUrgentWritesGoFirst: a request queued with doFirst (the fleet's
// heartbeats) runs before the requests queued ahead of it, and Close still
// commits every queued request of both kinds.
func TestUrgentWritesGoFirst(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "drover.db"), Options{})
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	var ran []string // written by the committer's goroutine only, read after Close
	started, release := make(chan struct{}), make(chan struct{})
	blocker := newRequest(t.Context(), func(ctx context.Context, tx *sql.Tx) error { close(started); <-release; return nil })
	mustEnqueue(t, s, blocker)
	<-started
	record := func(name string) txFunc {
		return func(ctx context.Context, tx *sql.Tx) error { ran = append(ran, name); return nil }
	}
	first, second := newRequest(t.Context(), record("first")), newRequest(t.Context(), record("second"))
	urgent := newRequest(t.Context(), record("urgent"))
	urgent.urgent = true
	mustEnqueue(t, s, first, second, urgent)
	close(release)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	for _, r := range []*writeRequest{first, second, urgent} {
		if err := <-r.done; err != nil {
			t.Errorf("queued write: error = %v, want nil", err)
		}
	}
	if want := []string{"urgent", "first", "second"}; !slices.Equal(ran, want) {
		t.Errorf("writes ran in the order %v, want %v", ran, want)
	}
}

// TestExclusiveRefusesASecondServer: two servers on one SQLite file would
// share one leadership row; the second is told why it cannot start, and
// may start once the first has closed.
func TestExclusiveRefusesASecondServer(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "one.db")
	first, err := Open(context.Background(), path, Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path, Options{Exclusive: true}); err == nil || !strings.Contains(err.Error(), "in use by another drover server") {
		t.Fatalf("second exclusive open: %v, want it refused", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := Open(context.Background(), path, Options{Exclusive: true})
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	second.Close()
}

// TestUnwritableIsStoreUnavailable: a database that can no longer be
// written (read-only, full, failing I/O) is STORE_UNAVAILABLE to the
// layers above, which answer 503 with Retry-After, not a bare 500.
func TestUnwritableIsStoreUnavailable(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ro.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.write.Exec("PRAGMA query_only = 1"); err != nil { // what a read-only file does to every write
		t.Fatal(err)
	}
	err = s.KVPut(context.Background(), "k", []byte(`1`))
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeStoreUnavailable {
		t.Fatalf("KVPut on a read-only database: %v, want STORE_UNAVAILABLE", err)
	}
}
