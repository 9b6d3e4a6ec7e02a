package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Store is what the service keeps keys and signatures in.
type Store interface {
	store.KeyStore
	store.SignatureStore
}

// Options configure a Service.
type Options struct {
	Store Store
	// Sealer seals signed-mode secrets; nil refuses signed-mode keys.
	Sealer *Sealer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheTTL bounds how long a key's record is trusted without asking
	// the store again, and so how long a revocation takes to reach this
	// server. Default 1s; negative turns the cache off.
	CacheTTL time.Duration
	// SkewWindow is how far a signed request's timestamp may be from the
	// server clock. Default 5 minutes.
	SkewWindow time.Duration
	Logger     *slog.Logger
}

// Service creates, rotates and revokes keys and authenticates requests.
// It is safe for concurrent use.
type Service struct {
	store  Store
	sealer *Sealer
	now    func() time.Time
	ttl    time.Duration
	skew   time.Duration
	log    *slog.Logger

	mu    sync.Mutex
	cache map[string]cachedKey // by token hash

}

type cachedKey struct {
	key    *store.Key
	secret string // the unsealed signing secret, if signed
	at     time.Time
}

// New returns a service.
func New(opts Options) *Service {
	s := &Service{store: opts.Store, sealer: opts.Sealer, now: opts.Now, ttl: opts.CacheTTL, skew: opts.SkewWindow,
		log: opts.Logger, cache: map[string]cachedKey{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl == 0 {
		s.ttl = time.Second
	}
	if s.skew <= 0 {
		s.skew = 5 * time.Minute
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// CreateParams describe a new key.
type CreateParams struct {
	Name   string
	Scopes []Scope
	// Signed makes a signed-mode key: a token and a separate secret.
	Signed bool
	// TTL, if positive, makes the key expire that long after creation.
	TTL    time.Duration
	Limits domain.KeyLimits
	// Join makes a worker join token instead of an API key: its scope is
	// agent, and it admits workers to Pool (any pool if empty), MaxUses
	// times (default 1).
	Join    bool
	Pool    string
	MaxUses int
}

// Created is a key as created: the only time its token and secret are seen.
type Created struct {
	Key    *store.Key
	Token  string
	Secret string // signed-mode keys only
}

// validKeyName reports whether name is 1 to 128 letters, digits, spaces or
// _.:@/+,()-. (Written out rather than as a regexp: compiling the Unicode
// classes costs every drover process, worker included, 5 MB at start.)
func validKeyName(name string) bool {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > 128 {
		return false
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" _.:@/+,()-", r) {
			return false
		}
	}
	return true
}

// Create makes a key.
func (s *Service) Create(ctx context.Context, p CreateParams) (*Created, error) {
	k, token, secret, err := s.newKey(p)
	if err != nil {
		return nil, err
	}
	if err := s.store.KeyInsert(ctx, k); err != nil {
		return nil, err
	}
	s.log.Info("key created", "key_id", k.ID, "name", k.Name, "kind", string(k.Kind), "scopes", k.Scopes, "signed", k.Signed())
	return &Created{Key: k, Token: token, Secret: secret}, nil
}

func (s *Service) newKey(p CreateParams) (*store.Key, string, string, error) {
	bad := func(field, format string, args ...any) error {
		return domain.Errorf(domain.CodeValidation, format, args...).With("field", field)
	}
	if p.Join && p.Name == "" {
		p.Name = strings.TrimSpace("join " + p.Pool)
	}
	if !validKeyName(p.Name) {
		return nil, "", "", bad("name", "name must be 1 to 128 letters, digits, spaces or _.:@/+,()-")
	}
	if p.TTL < 0 {
		return nil, "", "", bad("expires_in", "the lifetime must not be negative")
	}
	if p.Limits.Reads < 0 || p.Limits.Writes < 0 || p.Limits.Streams < 0 {
		return nil, "", "", bad("rate_limits", "rate limits must not be negative")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	k := &store.Key{ID: newKeyID(), Name: p.Name, Kind: store.KeyKindAPI, Limits: p.Limits, CreatedAt: now}
	if p.TTL > 0 {
		k.ExpiresAt = now.Add(p.TTL)
	}
	prefix := prefixAPI
	if p.Join {
		if p.Signed {
			return nil, "", "", bad("signed", "a join token cannot be signed")
		}
		if p.MaxUses < 0 {
			return nil, "", "", bad("uses", "uses must not be negative")
		}
		if p.MaxUses == 0 {
			p.MaxUses = 1
		}
		prefix, k.Kind, k.Scopes, k.Pool, k.MaxUses = prefixJoin, store.KeyKindJoin, []string{string(ScopeAgent)}, p.Pool, p.MaxUses
	} else {
		scopes, err := ParseScopes(scopeStrings(p.Scopes)...)
		if err != nil {
			return nil, "", "", bad("scopes", "%v", err)
		}
		if len(scopes) == 0 {
			return nil, "", "", bad("scopes", "a key needs at least one scope (read, write, admin, agent, exec:shell)")
		}
		k.Scopes = scopeStrings(scopes)
	}
	token := newToken(prefix)
	k.Hash = HashToken(token)
	var secret string
	if p.Signed {
		if s.sealer == nil {
			return nil, "", "", fail(ReasonNoServerKey, "signed-mode keys need a server key: start the server with --secret-key-file or DROVER_SECRET_KEY")
		}
		secret = newSecret()
		k.SealedSecret = s.sealer.Seal(k.ID, secret)
	}
	return k, token, secret, nil
}

// Seed makes sure an admin key with the given token exists (drover server
// --api-key). It is idempotent: a key with this token already stored is
// left as it is, even revoked, so that restarting with the same flag does
// not undo a revocation.
func (s *Service) Seed(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if why := malformed(token); why != "" {
		return fmt.Errorf("--api-key is refused: %s (an --api-key of your own needs no drv_ prefix: any long random string, e.g. from openssl rand -hex 32)", why)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	k := &store.Key{
		ID: newKeyID(), Name: "seed (--api-key)", Kind: store.KeyKindAPI, Scopes: []string{string(ScopeAdmin)},
		Hash: HashToken(token), CreatedAt: now,
	}
	err := s.store.KeyInsert(ctx, k)
	if errors.Is(err, domain.ErrConflict) {
		existing, err := s.store.KeyGetByHash(ctx, k.Hash)
		if err != nil {
			return err
		}
		if !existing.Usable(now) {
			s.log.Warn("the --api-key key is revoked or expired; it stays so", "key_id", existing.ID)
		}
		return nil
	}
	if err == nil {
		s.log.Info("seeded admin key from --api-key", "key_id", k.ID)
	}
	return err
}

// Get returns one key.
func (s *Service) Get(ctx context.Context, id string) (*store.Key, error) {
	k, err := s.store.KeyGet(ctx, id)
	return k, notFound(err, id)
}

// ListParams filters keys. Empty fields do not filter.
type ListParams = store.KeyListParams

// List lists keys.
func (s *Service) List(ctx context.Context, p ListParams) ([]*domain.Key, error) {
	return s.store.KeyList(ctx, &p)
}

// Revoke revokes a key at once on this server, and within CacheTTL on the
// others.
func (s *Service) Revoke(ctx context.Context, id string) (*store.Key, error) {
	k, err := s.store.KeyRevoke(ctx, &store.KeyRevokeParams{ID: id, Now: s.now()})
	if err != nil {
		return nil, notFound(err, id)
	}
	s.forget(k.Hash)
	s.log.Info("key revoked", "key_id", k.ID)
	return k, nil
}

// Rotate replaces a key by a new one with the same name, scopes, mode and
// limits; the old one keeps working for grace (0: it stops at once), so
// that clients can move over without an outage.
func (s *Service) Rotate(ctx context.Context, id string, grace time.Duration) (*Created, *store.Key, error) {
	old, err := s.store.KeyGet(ctx, id)
	if err != nil {
		return nil, nil, notFound(err, id)
	}
	if old.Kind != store.KeyKindAPI {
		return nil, nil, domain.Errorf(domain.CodeValidation, "only API keys rotate; create a new join token instead")
	}
	if grace < 0 {
		return nil, nil, domain.Errorf(domain.CodeValidation, "the grace period must not be negative").With("field", "grace_seconds")
	}
	scopes := make([]Scope, len(old.Scopes))
	for i, sc := range old.Scopes {
		scopes[i] = Scope(sc)
	}
	p := CreateParams{Name: old.Name, Scopes: scopes, Signed: old.Signed(), Limits: old.Limits}
	if !old.ExpiresAt.IsZero() {
		p.TTL = old.ExpiresAt.Sub(old.CreatedAt)
	}
	k, token, secret, err := s.newKey(p)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	old, err = s.store.KeyRotate(ctx, &store.KeyRotateParams{ID: id, New: k, OldExpiresAt: now.Add(grace), Now: now})
	if errors.Is(err, domain.ErrConflict) {
		return nil, nil, domain.Errorf(domain.CodeValidation, "key %s is revoked or expired: create a new one", id)
	}
	if err != nil {
		return nil, nil, notFound(err, id)
	}
	s.forget(old.Hash)
	s.log.Info("key rotated", "key_id", old.ID, "new_key_id", k.ID, "old_expires_at", old.ExpiresAt)
	return &Created{Key: k, Token: token, Secret: secret}, old, nil
}

func notFound(err error, id string) error {
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Errorf(domain.CodeKeyNotFound, "no key '%s'", id).With("key_id", id)
	}
	return err
}

// lookup finds the key a token names, through the cache.
func (s *Service) lookup(ctx context.Context, token string) (cachedKey, error) {
	hash := HashToken(token)
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[hash]
	s.mu.Unlock()
	if ok && s.ttl > 0 && now.Sub(c.at) < s.ttl && now.Sub(c.at) >= 0 {
		return c, nil
	}
	k, err := s.store.KeyGetByHash(ctx, hash)
	if errors.Is(err, domain.ErrNotFound) {
		return cachedKey{}, fail(ReasonUnknown, "the API key is not valid")
	}
	if err != nil {
		return cachedKey{}, err
	}
	c = cachedKey{key: k, at: now}
	if k.Signed() {
		if s.sealer == nil {
			return cachedKey{}, fail(ReasonNoServerKey, "this key is a signed-mode key, but the server has no server key to verify it (--secret-key-file)")
		}
		if c.secret, err = s.sealer.Open(k.ID, k.SealedSecret); err != nil {
			s.log.Error("cannot open a signed key's secret", "key_id", k.ID, "err", err)
			return cachedKey{}, fail(ReasonNoServerKey, "the server cannot open this key's secret")
		}
	}
	if s.ttl > 0 {
		s.mu.Lock()
		if len(s.cache) >= 10000 {
			clear(s.cache)
		}
		s.cache[hash] = c
		s.mu.Unlock()
	}
	return c, nil
}

func (s *Service) forget(hash string) {
	s.mu.Lock()
	delete(s.cache, hash)
	s.mu.Unlock()
}

// Principal is who a request authenticated as.
type Principal struct {
	KeyID  string
	Name   string
	Kind   store.KeyKind
	Scopes []Scope
	Limits domain.KeyLimits
	Signed bool
	Pool   string // join tokens
}

// Has reports whether p holds scope (directly or by implication).
func (p *Principal) Has(scope Scope) bool { return grants(p.Scopes, scope) }

func principalOf(k *store.Key) *Principal {
	p := &Principal{KeyID: k.ID, Name: k.Name, Kind: k.Kind, Limits: k.Limits, Signed: k.Signed(), Pool: k.Pool}
	for _, sc := range k.Scopes {
		p.Scopes = append(p.Scopes, Scope(sc))
	}
	slices.Sort(p.Scopes)
	return p
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom is the principal the Guard put in ctx, or nil when
// authentication is off.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Require checks, inside a handler, a scope that depends on the request's
// content (exec:shell for a shell task). With authentication off (no
// principal in ctx) everything is allowed.
func Require(ctx context.Context, scope Scope) error {
	p := PrincipalFrom(ctx)
	if p == nil || p.Has(scope) {
		return nil
	}
	return DomainError(&Failure{Reason: ReasonForbidden, Scope: scope,
		Message: fmt.Sprintf("this needs the %s scope, which key %s does not have", scope, p.KeyID)})
}

// ActorOf is who sends r, for the engine: the key the guard authenticated
// (none when authentication is off) and the client's address.
func ActorOf(r *http.Request) domain.Actor {
	a := domain.Actor{Addr: r.RemoteAddr}
	if p := PrincipalFrom(r.Context()); p != nil {
		a.Authenticated, a.KeyID, a.Name, a.ExecShell = true, p.KeyID, p.Name, p.Has(ScopeExecShell)
	}
	return a
}
