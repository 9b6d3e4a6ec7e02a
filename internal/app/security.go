package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/agentserver"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/ratelimit"
	"github.com/drover-run/drover/internal/store"
)

// Security is the part of ServerConfig that protects the listeners (see
// docs/security.md). The zero value is `drover dev`'s: no keys, no rate
// limits, plain HTTP on loopback.
type Security struct {
	// Auth requires an API key on every listener: a key with the right
	// scope on the native API, a join token or agent key to register a
	// worker (worker calls then carry the worker's own credential).
	Auth bool
	// APIKey seeds an admin key with this token (document 001's --api-key).
	APIKey string
	// SecretKey is the server key that seals signed-mode secrets
	// (DROVER_SECRET_KEY), or SecretKeyFile the file that holds it. Every
	// server sharing a store needs the same one.
	SecretKey     string
	SecretKeyFile string
	// RateLimit counts requests per key (per client address when auth is
	// off) against RateLimits (zero fields: document 001's 1000 reads and
	// 100 writes per 15 minutes, 10 streams), and the worker protocol's,
	// per worker credential, against AgentLimits.
	RateLimit   bool
	RateLimits  ratelimit.Limits
	AgentLimits ratelimit.Limits
	// TLSCert and TLSKey, PEM files, serve every listener over TLS.
	TLSCert, TLSKey string
	// Insecure allows plain HTTP on an address other than loopback.
	Insecure bool
}

// validate checks the settings against the listen host.
func (s Security) validate(host string) error {
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if s.TLSCert == "" && !s.Insecure && !isLoopback(host) {
		return fmt.Errorf("--host %s serves other machines over plain HTTP, where keys and tasks travel in clear: "+
			"give --tls-cert and --tls-key, or --insecure to accept that", host)
	}
	return nil
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// security is Security put together for one server.
type security struct {
	cfg    Security
	keys   *auth.Service
	api    *ratelimit.Limiter // nil: no rate limits
	agent  *ratelimit.Limiter
	tls    *tls.Config // nil: plain HTTP
	scheme string
}

func newSecurity(ctx context.Context, cfg Security, st store.Store, log *slog.Logger) (*security, error) {
	sealer, err := auth.LoadServerKey(cfg.SecretKeyFile, cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	s := &security{cfg: cfg, scheme: "http",
		keys: auth.New(auth.Options{Store: st, Sealer: sealer, Logger: log.With("component", "auth")})}
	switch {
	case cfg.APIKey != "" && !cfg.Auth:
		// DROVER_API_KEY is also the CLI's variable: a shell set up for
		// the CLI must not stop a server without --auth from starting.
		log.Warn("--api-key is ignored without --auth")
	default:
		if err := s.keys.Seed(ctx, cfg.APIKey); err != nil {
			return nil, err
		}
	}
	if cfg.RateLimit {
		s.api = ratelimit.New(cfg.RateLimits, nil)
		s.agent = ratelimit.New(cfg.AgentLimits.Or(ratelimit.AgentLimits()), nil)
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.scheme = "https"
	}
	return s, nil
}

// guard is the middleware that protects a listener serving routes:
// keys, scopes (from each route's Access) and rate limits, refusals
// rendered by errs (or a route's own format). Nil when neither auth nor
// rate limits are on.
func (s *security) guard(routes []httpapi.Route, errs httpapi.ErrorFunc) func(http.Handler) http.Handler {
	if !s.cfg.Auth && s.api == nil {
		return nil
	}
	g := auth.GuardOptions{Policy: auth.PolicyFor(routes), Limiter: s.api, Refuse: errs}
	if s.cfg.Auth {
		g.Auth = s.keys
	}
	return auth.Guard(g)
}

// agentMiddleware rate-limits the worker protocol with its own budget, per
// worker credential; workers authenticate with their credentials in the
// protocol itself.
func (s *security) agentMiddleware() func(http.Handler) http.Handler {
	if s.agent == nil {
		return nil
	}
	return auth.Guard(auth.GuardOptions{Limiter: s.agent, Subject: auth.BearerSubject, Refuse: envelope.Error})
}

// authorizeRegister checks worker registrations when auth is on.
func (s *security) authorizeRegister(st store.Store) func(*http.Request, *api.RegisterRequest) error {
	if !s.cfg.Auth {
		return nil
	}
	check := s.keys.AuthorizeRegister(st, agentserver.HashCredential)
	return func(r *http.Request, req *api.RegisterRequest) error {
		return auth.DomainError(check(r, req))
	}
}

// listen wraps ln in TLS when it is configured.
func (s *security) listen(ln net.Listener) net.Listener {
	if s.tls == nil {
		return ln
	}
	return tls.NewListener(ln, s.tls)
}
