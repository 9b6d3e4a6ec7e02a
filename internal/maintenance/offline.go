package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
)

// Offline marks workers offline once they have been silent for the offline
// threshold, so admission and the API stop counting on them.
type Offline struct {
	Engine *dispatch.Service
	Log    *slog.Logger
}

func (o *Offline) Name() string { return "offline" }

func (o *Offline) Run(ctx context.Context) error {
	return Every(ctx, o.Log, o.Name(), func() time.Duration { return o.Engine.Config().ReaperInterval }, o.Engine.MarkOffline)
}
