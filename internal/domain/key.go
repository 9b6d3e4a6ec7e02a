package domain

import "time"

// KeyKind tells API keys from join tokens.
type KeyKind string

// The kinds of key.
const (
	KeyKindAPI  KeyKind = "api"  // authenticates calls of the API
	KeyKindJoin KeyKind = "join" // exchanged by a worker for its credential
)

// Key is an API key or a join token as stored.
type Key struct {
	ID     string
	Name   string
	Kind   KeyKind
	Scopes []string
	// Hash is the hex SHA-256 of the token; unique.
	Hash string
	// SealedSecret is the signing secret of a signed-mode key, encrypted
	// under the server key; nil for a simple-mode key.
	SealedSecret []byte
	// Pool is the pool a join token admits workers to ("" for any).
	Pool string
	// MaxUses caps how many times a join token may be consumed (0: no cap);
	// Uses counts them.
	MaxUses int
	Uses    int
	// Limits override the server's rate limits for this key (0: default).
	Limits KeyLimits
	// RotatedTo is the id of the key that replaced this one, if any.
	RotatedTo string

	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: not revoked
}

// Signed reports whether the key is a signed-mode key.
func (k *Key) Signed() bool { return len(k.SealedSecret) > 0 }

// Usable reports whether the key is neither revoked nor expired at now.
func (k *Key) Usable(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// KeyLimits are per-key rate limits; zero fields take the server's.
type KeyLimits struct {
	Reads   int `json:"reads,omitempty"`   // read requests per window
	Writes  int `json:"writes,omitempty"`  // write requests per window
	Streams int `json:"streams,omitempty"` // concurrent event streams
}
