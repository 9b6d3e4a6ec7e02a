// Package insight answers what the cluster knows about itself: its
// summary and health, resource use and task outcomes over a period, each
// device's history and ranking, and the cluster log. It is the read side
// of the engine for everything that is not one task or one worker: the
// math lives here, and the HTTP layers only translate its answers.
package insight

import (
	"context"
	"encoding/json"
	"math"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Service answers the queries. It is safe for concurrent use.
type Service struct {
	store   store.Store
	now     func() time.Time
	started time.Time
}

// New makes a service over st. now is the engine's clock (nil: real
// time); started is the server's start, for uptime.
func New(st store.Store, now func() time.Time, started time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, now: now, started: started}
}

// Uptime is how long this server has run.
func (s *Service) Uptime() time.Duration { return s.now().Sub(s.started) }

// Ping checks the store answers and can write, and how fast: a store
// that reads but cannot write (read-only, disk full) cannot take a task,
// and a load balancer must hear so. The write is one small row.
func (s *Service) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := s.store.Ping(ctx); err != nil {
		return time.Since(start), err
	}
	stamp, _ := json.Marshal(s.now().UTC())
	if err := s.store.KVPut(ctx, "probe/write", stamp); err != nil {
		return time.Since(start), err
	}
	return time.Since(start), nil
}

// Period is a span of history back from now, read from buckets of Width.
type Period struct {
	Name  string        // "1h", "24h", "7d", "30d"
	Span  time.Duration // its length
	Width time.Duration // the bucket width it reads
	Since time.Time     // the first bucket it covers
}

// periods are the accepted period names: a period covers its length back
// from now, widened to whole buckets (7d is the last 7 days and today so
// far, in UTC days).
var periods = map[string]struct{ span, width time.Duration }{
	"1h":  {time.Hour, store.MetricMinute},
	"24h": {24 * time.Hour, store.MetricHour},
	"7d":  {7 * 24 * time.Hour, store.MetricDay},
	"30d": {30 * 24 * time.Hour, store.MetricDay},
}

// ParsePeriod reads a period name; empty is def.
func (s *Service) ParsePeriod(name, def string) (Period, error) {
	if name == "" {
		name = def
	}
	p, ok := periods[name]
	if !ok {
		return Period{}, domain.Errorf(domain.CodeValidation, "period must be one of 1h, 24h, 7d, 30d").With("field", "period")
	}
	// The bucket holding now-span is partly inside the period: include it.
	return Period{Name: name, Span: p.span, Width: p.width, Since: s.now().Add(-p.span).Truncate(p.width)}, nil
}

// observed is how much of the period a device registered at registered
// could have been seen in, up to now: the period's buckets start at Since
// (the bucket holding now-Span), so a device up all along fills exactly
// this window with heartbeats, whatever the bucket width.
func (p Period) observed(registered, now time.Time) time.Duration {
	from := p.Since
	if registered.After(from) {
		from = registered
	}
	return max(0, now.Sub(from))
}

// round1 rounds to one decimal, as every percentage and size is shown.
func round1(f float64) float64 { return math.Round(f*10) / 10 }

// round3 rounds to milliseconds, as durations in seconds are shown.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
