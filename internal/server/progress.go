package server

import (
	"context"
	"math"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
)

// taskProgress is t's current attempt's progress as the API shows it, or
// nil when it reported none.
func (s *Server) taskProgress(ctx context.Context, t *domain.Task) (*api.TaskProgress, error) {
	p, err := s.engine.TaskProgress(ctx, t)
	if err != nil || p == nil {
		return nil, err
	}
	return &api.TaskProgress{
		Fraction: p.Fraction, Percent: math.Round(p.Fraction*1000) / 10, Message: p.Message,
		Attempt: t.Attempt, UpdatedAt: p.Time.UTC(),
	}, nil
}
