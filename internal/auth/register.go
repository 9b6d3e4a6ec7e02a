package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// PoolLabel is the worker label a join token's pool is written to.
const PoolLabel = "pool"

// WorkerLookup finds a worker by the hash of its credential.
type WorkerLookup interface {
	WorkerGetByCredential(ctx context.Context, hash string) (*domain.Worker, error)
}

// AuthorizeRegister returns the worker protocol's registration check. A
// registration passes when
//   - it resumes a registration: WorkerID and Credential name a live
//     worker (a worker restarting from its state file), or
//   - it carries a join token with a use left; the token is spent, and
//     the worker is put in the token's pool (its "pool" label; asking for
//     another pool is refused), or
//   - it carries an API key with the agent scope (a fleet's provisioning
//     key), reusable.
//
// hashCredential is how the worker protocol hashes credentials.
func (s *Service) AuthorizeRegister(workers WorkerLookup, hashCredential func(string) string) func(*http.Request, *api.RegisterRequest) error {
	return func(r *http.Request, req *api.RegisterRequest) error {
		if req.WorkerID != "" && req.Credential != "" {
			w, err := workers.WorkerGetByCredential(r.Context(), hashCredential(req.Credential))
			if err == nil && subtle.ConstantTimeCompare([]byte(w.ID), []byte(req.WorkerID)) == 1 {
				return nil
			}
		}
		token, err := PresentedKey(r)
		if err != nil {
			return err
		}
		if why := malformed(token); why != "" {
			return fail(ReasonMalformed, "the join token is not valid: "+why)
		}
		c, err := s.lookup(r.Context(), token)
		if err != nil {
			return err
		}
		if c.key.Kind != store.KeyKindJoin {
			p, err := s.Authenticate(r)
			if err != nil {
				return err
			}
			if !p.Has(ScopeAgent) {
				return &Failure{Reason: ReasonForbidden, Scope: ScopeAgent,
					Message: "registering a worker needs a join token or a key with the agent scope"}
			}
			return nil
		}
		if pool := req.Labels[PoolLabel]; c.key.Pool != "" && pool != "" && pool != c.key.Pool {
			return fail(ReasonJoinRefused, "this join token admits workers to pool '"+c.key.Pool+"', not '"+pool+"'")
		}
		k, err := s.store.KeyConsume(r.Context(), &store.KeyConsumeParams{ID: c.key.ID, Now: s.now()})
		switch {
		case errors.Is(err, domain.ErrConflict):
			s.forget(c.key.Hash)
			return fail(ReasonExpired, "the join token is revoked, expired or used up: create a new one (drover keys create --join)")
		case errors.Is(err, domain.ErrNotFound):
			return fail(ReasonUnknown, "the join token is not valid")
		case err != nil:
			return err
		}
		if k.Pool != "" {
			if req.Labels == nil {
				req.Labels = map[string]string{}
			}
			req.Labels[PoolLabel] = k.Pool
		}
		s.log.Info("join token used", "key_id", k.ID, "uses", k.Uses, "max_uses", k.MaxUses, "pool", k.Pool, "worker_name", req.Name)
		return nil
	}
}
