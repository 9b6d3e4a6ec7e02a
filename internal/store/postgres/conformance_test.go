package postgres

import (
	"context"

	"testing"

	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/storetest"
)

// TestConformance runs the shared store suite, each subtest in its own schema.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
}

// raceEnabled is set by race_test.go.
var raceEnabled bool

// TestModel is R9 on PostgreSQL: the task state machine against a plain
// map, with restarts that close the pool and open the schema again. Each
// step is a few PostgreSQL transactions, so 25 checks (-rapid.checks raises
// it) keep the run near a minute on a loaded machine.
func TestModel(t *testing.T) {
	checks := 25
	if raceEnabled {
		checks = 10
	}
	url := testURL(t)
	schema := testSchema(t, url)
	open := func(t *testing.T) store.Store {
		s, err := Open(context.Background(), url, Options{Schema: schema})
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
