package app

import (
	"context"
	"fmt"
	"log/slog"
	neturl "net/url"
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
// A PostgreSQL URL may name one schema for Drover's tables with
// ?search_path=name; it is created if missing, so several clusters (or
// tests) can share a database. sync is SQLite's synchronous setting
// ("NORMAL" or "FULL"); PostgreSQL ignores it. log receives what the store
// does on its own.
func OpenStore(ctx context.Context, url, sync string, log *slog.Logger) (store.Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url, postgres.Options{Schema: schemaOf(url), Logger: log})
	case strings.HasPrefix(url, "sqlite://"), !strings.Contains(url, "://"):
		return sqlite.Open(ctx, url, sqlite.Options{Synchronous: sync, Exclusive: true})
	}
	return nil, fmt.Errorf("--store %q: use sqlite:///path/drover.db or postgres://…", redact(url))
}

// schemaOf is the schema a PostgreSQL URL's search_path names, if it names
// exactly one; else "" (the URL's search_path, if any, applies as it is).
func schemaOf(rawURL string) string {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return "" // postgres.Open reports the bad URL
	}
	path := strings.TrimSpace(u.Query().Get("search_path"))
	if path == "" || strings.ContainsAny(path, `,"`) || strings.HasPrefix(path, "$") {
		return ""
	}
	return path
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
