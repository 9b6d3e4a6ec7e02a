package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/telemetry"
)

// History prunes the metric history and the event log past their
// retention (settings: metrics.retention, logging.retention), every
// Interval.
type History struct {
	Sampler  *telemetry.Sampler
	Log      *slog.Logger
	Interval time.Duration // default 10m
}

func (h *History) Name() string { return "history" }

func (h *History) Run(ctx context.Context) error {
	interval := h.Interval
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	return Every(ctx, h.Log, h.Name(), fixed(interval), h.Sampler.Prune)
}
