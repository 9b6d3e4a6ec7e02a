package server

import (
	"net/http"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
)

// Limits on key fields.
const (
	maxKeyTTL   = 10 * 365 * 24 * time.Hour
	maxKeyGrace = 30 * 24 * time.Hour
	maxKeyUses  = 100000
)

func (s *Server) keyRoutes() []httpapi.Route {
	if s.keys == nil {
		return nil
	}
	return []httpapi.Route{
		{Method: "POST", Path: "/api/v1/keys", Access: httpapi.Admin, Tag: "keys", Summary: "Create an API key or a join token; its token is shown only now",
			Request: api.CreateKeyRequest{}, Response: api.CreatedKey{}, Status: http.StatusCreated, Handler: s.createKey},
		{Method: "GET", Path: "/api/v1/keys", Access: httpapi.Admin, Tag: "keys", Summary: "List API keys", Response: api.KeyList{},
			Params: []httpapi.Param{httpapi.Query("kind", "string", "api keys, join tokens or both", "api", "join", "all"),
				httpapi.Query("include_revoked", "boolean", "list revoked keys too")},
			Handler: s.listKeys},
		{Method: "GET", Path: "/api/v1/keys/{id}", Access: httpapi.Admin, Tag: "keys", Summary: "An API key", Response: api.KeyResponse{}, Handler: s.getKey},
		{Method: "DELETE", Path: "/api/v1/keys/{id}", Access: httpapi.Admin, Tag: "keys", Summary: "Revoke an API key",
			Response: api.RevokeKeyResponse{}, Handler: s.revokeKey},
		{Method: "POST", Path: "/api/v1/keys/{id}/rotate", Access: httpapi.Admin, Tag: "keys", Summary: "Rotate an API key; the new token is shown only now",
			Request: api.RotateKeyRequest{}, Response: api.CreatedKey{}, Status: http.StatusCreated, Handler: s.rotateKey},
	}
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateKeyRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
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
		p.Limits = domain.KeyLimits{Reads: l.Reads, Writes: l.Writes, Streams: l.Streams}
	}
	c, err := s.keys.Create(r.Context(), p)
	if err != nil {
		return auth.DomainError(err)
	}
	envelope.OK(w, r, api.CreatedKey{Key: keyToAPI(c.Key, s.engine.Now()), Token: c.Token, Secret: c.Secret},
		"key created; its token is shown only now")
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	p := auth.ListParams{IncludeRevoked: r.URL.Query().Get("include_revoked") == "true"}
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "all":
	case string(domain.KeyKindAPI), string(domain.KeyKindJoin):
		p.Kind = domain.KeyKind(kind)
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
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.keys.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.KeyResponse{Key: keyToAPI(k, s.engine.Now())}, "")
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.keys.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.RevokeKeyResponse{RevokedKey: k.ID, RevokedAt: k.RevokedAt}, "key revoked")
	return nil
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) error {
	var req api.RotateKeyRequest
	if err := httpapi.Decode(w, r, &req, true); err != nil {
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
	envelope.OK(w, r, api.CreatedKey{Key: keyToAPI(c.Key, now), Token: c.Token, Secret: c.Secret, OldKey: &oldKey},
		"key rotated; the new token is shown only now")
	return nil
}

func keyToAPI(k *domain.Key, now time.Time) api.Key {
	out := api.Key{
		ID: k.ID, Name: k.Name, Kind: string(k.Kind), Status: "active", Scopes: k.Scopes, Signed: k.Signed(),
		Pool: k.Pool, MaxUses: k.MaxUses, Uses: k.Uses, RotatedTo: k.RotatedTo, CreatedAt: k.CreatedAt,
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if l := k.Limits; l != (domain.KeyLimits{}) {
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
