package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/drover-run/drover/api"
)

// KeysService manages API keys and worker join tokens: /api/v1/keys. It
// needs an admin key when the server runs with --auth.
type KeysService struct{ c *Client }

// Create makes a key or join token (POST /keys). The answer is the only
// time its token (and a signed key's secret) is shown.
func (s *KeysService) Create(ctx context.Context, req api.CreateKeyRequest) (*api.CreatedKey, error) {
	var out api.CreatedKey
	if err := s.c.call(ctx, request{method: http.MethodPost, path: apiPrefix + "/keys", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeyListOptions filter GET /keys.
type KeyListOptions struct {
	Kind           string // api, join or all (default)
	IncludeRevoked bool
}

// List lists keys, without their tokens (GET /keys).
func (s *KeysService) List(ctx context.Context, opts KeyListOptions) (*api.KeyList, error) {
	q := url.Values{}
	setString(q, "kind", opts.Kind)
	if opts.IncludeRevoked {
		q.Set("include_revoked", "true")
	}
	var out api.KeyList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/keys", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns one key (GET /keys/{id}).
func (s *KeysService) Get(ctx context.Context, id string) (*api.Key, error) {
	path, err := itemPath("keys", id, "")
	if err != nil {
		return nil, err
	}
	var out api.KeyResponse
	if err := s.c.call(ctx, request{method: http.MethodGet, path: path}, &out); err != nil {
		return nil, err
	}
	return &out.Key, nil
}

// Revoke revokes a key (DELETE /keys/{id}); every server refuses it within
// a second.
func (s *KeysService) Revoke(ctx context.Context, id string) (*api.RevokeKeyResponse, error) {
	path, err := itemPath("keys", id, "")
	if err != nil {
		return nil, err
	}
	var out api.RevokeKeyResponse
	if err := s.c.call(ctx, request{method: http.MethodDelete, path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rotate replaces a key by a new one with the same name, scopes and mode
// (POST /keys/{id}/rotate); the old one keeps working for graceSeconds
// (nil: the server's default, an hour).
func (s *KeysService) Rotate(ctx context.Context, id string, graceSeconds *int64) (*api.CreatedKey, error) {
	path, err := itemPath("keys", id, "/rotate")
	if err != nil {
		return nil, err
	}
	var out api.CreatedKey
	if err := s.c.call(ctx, request{method: http.MethodPost, path: path, body: api.RotateKeyRequest{GraceSeconds: graceSeconds}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
