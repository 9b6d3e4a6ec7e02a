package api

import "time"

// CreateKeyRequest is the body of POST /api/v1/keys.
type CreateKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes,omitempty"` // read, write, admin, agent, exec:shell
	// Signed makes a signed-mode key (document 000): the answer carries a
	// secret besides the token, and every request must be signed with it.
	Signed bool `json:"signed,omitempty"`
	// ExpiresIn, in seconds, makes the key expire; 0 never.
	ExpiresIn int64 `json:"expires_in,omitempty"`
	// Join makes a worker join token (scope agent) for Pool, usable Uses
	// times (default 1).
	Join       bool           `json:"join,omitempty"`
	Pool       string         `json:"pool,omitempty"`
	Uses       int            `json:"uses,omitempty"`
	RateLimits *KeyRateLimits `json:"rate_limits,omitempty"`
}

// KeyRateLimits override the server's rate limits for one key; zero fields
// keep the server's.
type KeyRateLimits struct {
	Reads   int `json:"reads,omitempty"`
	Writes  int `json:"writes,omitempty"`
	Streams int `json:"streams,omitempty"`
}

// Key is an API key or join token as listed: never its token or secret.
type Key struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`   // api or join
	Status     string         `json:"status"` // active, revoked, expired or used_up
	Scopes     []string       `json:"scopes"`
	Signed     bool           `json:"signed"`
	Pool       string         `json:"pool,omitempty"`
	MaxUses    int            `json:"max_uses,omitempty"`
	Uses       int            `json:"uses,omitempty"`
	RateLimits *KeyRateLimits `json:"rate_limits,omitempty"`
	RotatedTo  string         `json:"rotated_to,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	ExpiresAt  *time.Time     `json:"expires_at"`
	RevokedAt  *time.Time     `json:"revoked_at,omitempty"`
}

// CreatedKey is the data of POST /api/v1/keys and of a rotation: the only
// answer that shows the token (and a signed key's secret).
type CreatedKey struct {
	Key    Key    `json:"key"`
	Token  string `json:"token"`
	Secret string `json:"secret,omitempty"`
	// OldKey is the rotated key, after the rotation (rotations only).
	OldKey *Key `json:"old_key,omitempty"`
}

// KeyList is the data of GET /api/v1/keys.
type KeyList struct {
	Keys  []Key `json:"keys"`
	Total int   `json:"total"`
}

// KeyResponse is the data of GET /api/v1/keys/{id}.
type KeyResponse struct {
	Key Key `json:"key"`
}

// RevokeKeyResponse is the data of DELETE /api/v1/keys/{id}.
type RevokeKeyResponse struct {
	RevokedKey string    `json:"revoked_key"`
	RevokedAt  time.Time `json:"revoked_at"`
}

// RotateKeyRequest is the body of POST /api/v1/keys/{id}/rotate.
type RotateKeyRequest struct {
	// GraceSeconds is how long the old key keeps working; default 3600, 0
	// stops it at once.
	GraceSeconds *int64 `json:"grace_seconds,omitempty"`
}
