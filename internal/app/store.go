package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/postgres"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// OpenStore opens the store a --store value names:
//
//	sqlite:///abs/path/drover.db   sqlite://relative/path.db   ./path.db
//	postgres://user:pass@host:5432/db   postgresql://…
//
// sync is SQLite's synchronous setting ("NORMAL" or "FULL"); PostgreSQL ignores it.
func OpenStore(ctx context.Context, url, sync string) (store.Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url, postgres.Options{})
	case strings.HasPrefix(url, "sqlite://"), !strings.Contains(url, "://"):
		return sqlite.Open(ctx, url, sqlite.Options{Synchronous: sync})
	}
	return nil, fmt.Errorf("--store %q: use sqlite:///path/drover.db or postgres://…", redact(url))
}

// redact hides a URL's password, for messages.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	creds := url[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		return url[:scheme+3] + creds[:i] + ":***" + url[at:]
	}
	return url
}
