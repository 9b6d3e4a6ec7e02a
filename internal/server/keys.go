package server

import (
	"net/http"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/web"
)

// Policy is the native API's authorization policy: the scope each route
// needs when authentication is on. Routes it does not name need read for
// GET and write otherwise; a shell task further needs exec:shell, checked
// by the handlers that create one (requireShell).
func Policy() *auth.Policy {
	return auth.NewPolicy().
		Public("GET /health", "GET /ready", "GET /openapi.json").
		Require(auth.ScopeAdmin,
			"/api/v1/keys", "/api/v1/keys/",
			"PUT /api/v1/config", "PUT /api/v1/cluster/config",
			"DELETE /api/v1/devices/{id}")
}

// Refuse renders the guard's refusals in the native envelope.
func Refuse(w http.ResponseWriter, r *http.Request, err error) {
	web.WriteError(w, r, auth.DomainError(err))
}

// Limits on key fields.
const (
	maxKeyTTL   = 10 * 365 * 24 * time.Hour
	maxKeyGrace = 30 * 24 * time.Hour
	maxKeyUses  = 100000
)

func (s *Server) keyRoutes() {
	if s.keys == nil {
		return
	}
	r := s.router
	r.Handle("POST", "/api/v1/keys", s.createKey)
	r.Handle("GET", "/api/v1/keys", s.listKeys)
	r.Handle("GET", "/api/v1/keys/{id}", s.getKey)
	r.Handle("DELETE", "/api/v1/keys/{id}", s.revokeKey)
	r.Handle("POST", "/api/v1/keys/{id}/rotate", s.rotateKey)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateKeyRequest
	if err := web.Decode(w, r, &req, false); err != nil {
		return err
	}
	if req.ExpiresIn < 0 || time.Duration(req.ExpiresIn) > maxKeyTTL/time.Second {
		return domain.Errorf(domain.CodeValidation, "expires_in must be between 0 and %d seconds", int64(maxKeyTTL/time.Second)).With("field", "expires_in")
	}
	if req.Uses < 0 || req.Uses > maxKeyUses {
		return domain.Errorf(domain.CodeValidation, "uses must be between 0 and %d", maxKeyUses).With("field", "uses")
	}
	if !req.Join && req.Pool != "" {
		return domain.Errorf(domain.CodeValidation, "pool is for join tokens (join: true)").With("field", "pool")
	}
	p := auth.CreateParams{
		Name: req.Name, Signed: req.Signed, TTL: time.Duration(req.ExpiresIn) * time.Second,
		Join: req.Join, Pool: req.Pool, MaxUses: req.Uses,
	}
	if req.Join && len(req.Scopes) > 0 {
		return domain.Errorf(domain.CodeValidation, "a join token's scope is agent; leave scopes out").With("field", "scopes")
	}
	scopes, err := auth.ParseScopes(req.Scopes...)
	if err != nil {
		return domain.Errorf(domain.CodeValidation, "%v", err).With("field", "scopes")
	}
	p.Scopes = scopes
	if l := req.RateLimits; l != nil {
		p.Limits = store.KeyLimits{Reads: l.Reads, Writes: l.Writes, Streams: l.Streams}
	}
	c, err := s.keys.Create(r.Context(), p)
	if err != nil {
		return auth.DomainError(err)
	}
	web.WriteEnvelope(w, r, http.StatusCreated, api.CreatedKey{Key: keyToAPI(c.Key, s.engine.Now()), Token: c.Token, Secret: c.Secret},
		"key created; its token is shown only now")
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	p := store.KeyListParams{IncludeRevoked: r.URL.Query().Get("include_revoked") == "true"}
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "all":
	case string(store.KeyKindAPI), string(store.KeyKindJoin):
		p.Kind = store.KeyKind(kind)
	default:
		return domain.Errorf(domain.CodeValidation, "kind must be api, join or all").With("field", "kind")
	}
	keys, err := s.keys.List(r.Context(), p)
	if err != nil {
		return err
	}
	now := s.engine.Now()
	out := api.KeyList{Keys: make([]api.Key, len(keys)), Total: len(keys)}
	for i, k := range keys {
		out.Keys[i] = keyToAPI(k, now)
	}
	web.WriteJSON(w, r, http.StatusOK, out)
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.keys.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, r, http.StatusOK, api.KeyResponse{Key: keyToAPI(k, s.engine.Now())})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.keys.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	web.WriteEnvelope(w, r, http.StatusOK, api.RevokeKeyResponse{RevokedKey: k.ID, RevokedAt: k.RevokedAt}, "key revoked")
	return nil
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) error {
	var req api.RotateKeyRequest
	if err := web.Decode(w, r, &req, true); err != nil {
		return err
	}
	grace := time.Hour
	if req.GraceSeconds != nil {
		if *req.GraceSeconds < 0 || *req.GraceSeconds > int64(maxKeyGrace/time.Second) {
			return domain.Errorf(domain.CodeValidation, "grace_seconds must be between 0 and %d", int64(maxKeyGrace/time.Second)).With("field", "grace_seconds")
		}
		grace = time.Duration(*req.GraceSeconds) * time.Second
	}
	c, old, err := s.keys.Rotate(r.Context(), r.PathValue("id"), grace)
	if err != nil {
		return auth.DomainError(err)
	}
	now := s.engine.Now()
	oldKey := keyToAPI(old, now)
	web.WriteEnvelope(w, r, http.StatusCreated, api.CreatedKey{Key: keyToAPI(c.Key, now), Token: c.Token, Secret: c.Secret, OldKey: &oldKey},
		"key rotated; the new token is shown only now")
	return nil
}

func keyToAPI(k *store.Key, now time.Time) api.Key {
	out := api.Key{
		ID: k.ID, Name: k.Name, Kind: string(k.Kind), Status: "active", Scopes: k.Scopes, Signed: k.Signed(),
		Pool: k.Pool, MaxUses: k.MaxUses, Uses: k.Uses, RotatedTo: k.RotatedTo, CreatedAt: k.CreatedAt,
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if l := k.Limits; l != (store.KeyLimits{}) {
		out.RateLimits = &api.KeyRateLimits{Reads: l.Reads, Writes: l.Writes, Streams: l.Streams}
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		out.ExpiresAt = &t
	}
	switch {
	case !k.RevokedAt.IsZero():
		t := k.RevokedAt
		out.RevokedAt, out.Status = &t, "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		out.Status = "expired"
	case k.MaxUses > 0 && k.Uses >= k.MaxUses:
		out.Status = "used_up"
	}
	return out
}

// requireShell refuses a shell task to a key without exec:shell (write is
// never enough: a shell task runs any command on a worker).
func requireShell(r *http.Request, t *domain.Task) error {
	if t.Type != domain.TypeShell {
		return nil
	}
	return auth.Require(r.Context(), auth.ScopeExecShell)
}
