package dispatch

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// HeartbeatResult tells a worker what to stop and whether to drain.
type HeartbeatResult struct {
	Worker *domain.Worker
	Stop   []Stop
}

// Stop orders a worker to abandon one lease.
type Stop struct {
	Ref    domain.TaskRef
	Reason string // "cancelled" or "lease_lost"
}

// Heartbeats arriving together go to the store as one batch: 10,000
// workers heartbeating every 5 s are 2,000 heartbeats a second, and one
// statement for many costs the store's writer little more than one.
const (
	maxHeartbeatBatch = 1000
	// heartbeatBatchTimeout bounds a batch's store call, which no one
	// caller's cancellation ends.
	heartbeatBatchTimeout = 30 * time.Second
)

// Heartbeat records the resources of worker w (as its credential resolved
// it), renews the leases it holds, and returns the leases it believes it
// holds but no longer does. It shares a store transaction with the
// heartbeats that arrive at the same time, and returns once that
// transaction has committed. A worker removed, or whose credential a later
// registration replaced, is domain.ErrNotFound, and nothing changes.
func (s *Service) Heartbeat(ctx context.Context, w *domain.Worker, res domain.Resources, held []domain.TaskRef) (*HeartbeatResult, error) {
	if err := validResources(res); err != nil {
		return nil, err
	}
	turn := s.order.begin()
	defer turn.end()
	hb, err := s.heartbeats.do(ctx, store.Heartbeat{ID: w.ID, CredentialHash: w.CredentialHash, Resources: res, Held: held})
	if err == nil {
		err = hb.Err
	}
	if err != nil {
		return nil, err
	}
	later(turn, s.hooks.WorkerHeartbeat, hb.Worker)
	out := &HeartbeatResult{Worker: hb.Worker}
	for _, l := range hb.Lost {
		out.Stop = append(out.Stop, Stop{Ref: l.Ref, Reason: string(l.Reason)})
	}
	return out, nil
}

// heartbeatBatch records a batch of heartbeats, at one time.
func (s *Service) heartbeatBatch(ctx context.Context, hbs []store.Heartbeat) ([]store.WorkerHeartbeatResult, error) {
	return s.store.WorkerHeartbeatMany(ctx, &store.WorkerHeartbeatManyParams{Heartbeats: hbs, TTL: s.Config().LeaseTTL, Now: s.storeNow()})
}
