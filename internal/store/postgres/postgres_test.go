package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The tests need a real PostgreSQL, named by DROVER_TEST_POSTGRES_URL
// (.ci/postgres.sh starts one and prints the line to set it). Without it they
// skip, except in CI (CI=true), where a missing or unreachable database is a
// failure: a green run must not hide a PostgreSQL leg that never ran.
//
// Each test gets a fresh schema, so tests run in parallel against one
// database and leave nothing behind.

const urlEnv = "DROVER_TEST_POSTGRES_URL"

// testURL returns the database URL, skipping or failing the test without one.
func testURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(urlEnv)
	if url == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set; in CI the PostgreSQL tests must run (source .ci/postgres.sh)", urlEnv)
		}
		tb.Skipf("%s is not set; run .ci/postgres.sh to start a local PostgreSQL", urlEnv)
	}
	return url
}

// testSchema creates nothing: it names a fresh schema and drops it, with
// everything in it, when the test ends.
func testSchema(tb testing.TB, url string) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "drover_test_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// newTestStore opens a store in a fresh schema, closed when the test ends.
func newTestStore(tb testing.TB) *Store {
	tb.Helper()
	return newTestStoreWith(tb, Options{})
}

// newTestStoreWith is newTestStore with options; their Schema is replaced.
func newTestStoreWith(tb testing.TB, opts Options) *Store {
	tb.Helper()
	url := testURL(tb)
	opts.Schema = testSchema(tb, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, url, opts)
	if err != nil {
		// Set but unreachable is a failure everywhere: whoever set it meant
		// the tests to run.
		tb.Fatalf("Open(%s): %v", urlEnv, err)
	}
	tb.Cleanup(func() { s.Close() }) // registered after the drop, so it runs first
	return s
}
