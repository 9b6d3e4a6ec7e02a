package store

import (
	"context"
	"time"
)

// KeyStore persists API keys and worker join tokens. A key's token is never
// stored: only its SHA-256 hash, by which a presented token is found. The
// signing secret of a signed-mode key, which the server must be able to use,
// is stored sealed (encrypted) by the caller; the store never sees it in
// clear.
type KeyStore interface {
	// KeyConsume spends one use of a join token: it succeeds only while
	// the key is neither revoked nor expired at Now and has uses left
	// (Uses < MaxUses, or MaxUses 0 for no cap), and returns the key after
	// the use. A key that cannot be used is domain.ErrConflict, an unknown
	// id domain.ErrNotFound. Two concurrent calls on a key with one use
	// left never both succeed.
	KeyConsume(ctx context.Context, p *KeyConsumeParams) (*Key, error)
	// KeyGet returns one key (revoked and expired ones too), or
	// domain.ErrNotFound.
	KeyGet(ctx context.Context, id string) (*Key, error)
	// KeyGetByHash returns the key whose token hashes to hash (revoked and
	// expired ones too: the caller judges them), or domain.ErrNotFound.
	KeyGetByHash(ctx context.Context, hash string) (*Key, error)
	// KeyInsert stores a new key as the caller formed it. A taken ID or
	// Hash is domain.ErrConflict.
	KeyInsert(ctx context.Context, k *Key) error
	// KeyList lists keys, oldest first.
	KeyList(ctx context.Context, p *KeyListParams) ([]*Key, error)
	// KeyRevoke revokes a key at Now and returns it; revoking a revoked key
	// keeps its first revocation time. An unknown id is domain.ErrNotFound.
	KeyRevoke(ctx context.Context, p *KeyRevokeParams) (*Key, error)
	// KeyRotate replaces a key in one transaction: it inserts New and makes
	// the old key expire at OldExpiresAt (or keeps its own expiry if that
	// is sooner), so that both work during the grace period. The old key
	// must be neither revoked nor expired at Now, else domain.ErrConflict;
	// an unknown id is domain.ErrNotFound. It returns the old key after the
	// change.
	KeyRotate(ctx context.Context, p *KeyRotateParams) (*Key, error)
}

// SignatureStore remembers the signatures of signed requests for as long as
// a replay of them could pass the timestamp check, so that a replay is
// refused on every server sharing the store and after restarts.
type SignatureStore interface {
	// SignatureForget deletes the signatures that expired before Before and
	// reports how many.
	SignatureForget(ctx context.Context, p *SignatureForgetParams) (int, error)
	// SignatureRemember records (KeyID, Signature) until ExpiresAt. It
	// reports fresh=false, recording nothing, when the pair is already
	// recorded and not expired at Now; of two concurrent calls with the
	// same pair exactly one is fresh.
	SignatureRemember(ctx context.Context, p *SignatureRememberParams) (fresh bool, err error)
}

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

// KeyConsumeParams spends one use of a join token.
type KeyConsumeParams struct {
	ID  string
	Now time.Time
}

// KeyListParams filters keys. Empty fields do not filter.
type KeyListParams struct {
	Kind KeyKind
	// IncludeRevoked lists revoked keys too.
	IncludeRevoked bool
}

// KeyRevokeParams names the key to revoke.
type KeyRevokeParams struct {
	ID  string
	Now time.Time
}

// KeyRotateParams replaces key ID by New.
type KeyRotateParams struct {
	ID           string
	New          *Key
	OldExpiresAt time.Time
	Now          time.Time
}

// SignatureRememberParams is one signature to remember.
type SignatureRememberParams struct {
	KeyID     string
	Signature string
	ExpiresAt time.Time
	Now       time.Time
}

// SignatureForgetParams bounds what SignatureForget deletes.
type SignatureForgetParams struct {
	Before time.Time
}
