package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/auth"
)

// Signatures forgets signed-mode signatures older than the replay window:
// the replay table only needs what a replay could still reuse.
type Signatures struct {
	Auth *auth.Service
	Log  *slog.Logger
}

func (s *Signatures) Name() string { return "signatures" }

func (s *Signatures) Run(ctx context.Context) error {
	return Every(ctx, s.Log, s.Name(), fixed(time.Minute), s.Auth.ForgetSignatures)
}
