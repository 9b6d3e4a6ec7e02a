package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/storetest"
)

// openTemp opens a store on a file in t's temporary directory, closed when t ends.
func openTemp(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "drover.db"), opts)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t, Options{}) })
}

// raceEnabled is set by race_test.go.
var raceEnabled bool

// TestModel is R9 on SQLite: the task state machine against a plain map,
// with restarts that close the file and open it again.
func TestModel(t *testing.T) {
	t.Parallel()
	checks := 100
	if raceEnabled {
		checks = 20 // the race detector slows the store tenfold
	}
	path := filepath.Join(t.TempDir(), "drover.db")
	open := func(t *testing.T) store.Store {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatalf("Open() error = %v", err)
		}
		return s
	}
	last := storetest.RunModel(t, open(t), func(t *testing.T, s store.Store) store.Store {
		if err := s.Close(); err != nil {
			t.Fatalf("Close() error = %v", err)
		}
		return open(t)
	}, checks)
	if err := last.Close(); err != nil {
		t.Errorf("Close() error = %v", err)
	}
}
