package store

import (
	"context"
	"github.com/drover-run/drover/internal/domain"
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

// The key types are the domain's; these names keep the backends' code short.
type (
	KeyKind   = domain.KeyKind
	Key       = domain.Key
	KeyLimits = domain.KeyLimits
)

// The kinds of key.
const (
	KeyKindAPI  = domain.KeyKindAPI
	KeyKindJoin = domain.KeyKindJoin
)

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
