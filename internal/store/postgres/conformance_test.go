package postgres

import (
	"testing"

	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/storetest"
)

// TestConformance runs the shared store suite, each subtest in its own schema.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
}
