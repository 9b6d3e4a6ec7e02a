package scale

import (
	"context"
	"encoding/json"

	"github.com/drover-run/drover/internal/domain"
)

// Provider makes and removes a pool's workers. Implementations live in their
// own packages (scale/local, scale/command).
type Provider interface {
	// Validate checks a pool's provider configuration.
	Validate(config json.RawMessage) error
	// Launch starts one new worker per name for pool p; want is the pool's
	// desired size. A launched worker registers with p.ID as its pool and
	// asks for its name as its id. Launch returns once the starts are under
	// way, not once the workers registered.
	Launch(ctx context.Context, p *domain.Pool, names []string, want int) error
	// Remove disposes of worker w of p once it has drained (or its drain
	// deadline passed): stop its process, delete its machine. want is the
	// pool's desired size. p is nil when the pool was deleted.
	Remove(ctx context.Context, p *domain.Pool, w *domain.Worker, want int) error
}
