package auth

import (
	"net"
	"net/http"
	"strings"

	"github.com/drover-run/drover/internal/ratelimit"
)

// Policy says which scope each route needs. Routes are ServeMux patterns
// ("GET /api/v1/keys/{id}"), matched exactly as the listener's router
// matches them; a route the policy does not name needs read for GET, HEAD
// and OPTIONS and write for every other method, so a route added later is
// protected by default.
type Policy struct {
	mux *http.ServeMux
}

// NewPolicy returns a policy with only the default rule.
func NewPolicy() *Policy { return &Policy{mux: http.NewServeMux()} }

// scopeRule is a policy entry: the mux is used only to match, never to serve.
type scopeRule struct {
	scope  Scope
	public bool
}

func (scopeRule) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Public lets patterns through without a key (and without rate limits):
// health checks and the like.
func (p *Policy) Public(patterns ...string) *Policy {
	for _, pat := range patterns {
		p.mux.Handle(pat, scopeRule{public: true})
	}
	return p
}

// Require makes patterns need scope.
func (p *Policy) Require(scope Scope, patterns ...string) *Policy {
	for _, pat := range patterns {
		p.mux.Handle(pat, scopeRule{scope: scope})
	}
	return p
}

// Rule is the scope r needs, or public.
func (p *Policy) Rule(r *http.Request) (scope Scope, public bool) {
	if p != nil {
		if h, pattern := p.mux.Handler(r); pattern != "" {
			if rule, ok := h.(scopeRule); ok {
				return rule.scope, rule.public
			}
		}
	}
	if ratelimit.ClassOf(r) == ratelimit.Read {
		return ScopeRead, false
	}
	return ScopeWrite, false
}

// RefuseFunc writes a refusal in a listener's own format: err is a
// *Failure, a *ratelimit.ExceededError, or an error of reading the request
// or of the store. The status line is the dialect's to choose; the
// X-RateLimit-* and Retry-After headers are already set.
type RefuseFunc func(w http.ResponseWriter, r *http.Request, err error)

// GuardOptions configure a Guard.
type GuardOptions struct {
	// Auth authenticates requests; nil turns authentication off (every
	// request passes as anonymous).
	Auth *Service
	// Policy gives each route's scope; nil: read or write by method.
	Policy *Policy
	// Limiter counts requests; nil turns rate limits off.
	Limiter *ratelimit.Limiter
	// Subject names whom an unauthenticated request counts against;
	// default: the client's address (RemoteAddr without the port).
	Subject func(r *http.Request) string
	// Refuse renders refusals; required.
	Refuse RefuseFunc
}

// Guard returns the middleware that authenticates, rate-limits and
// authorizes every request, in that order, before the listener's router
// sees it: a request is counted against its key (or its address when it
// has none, or when its key is refused, so that guessing keys spends the
// guesser's budget), every answer carries the X-RateLimit-* headers, and
// the principal is in the handler's context (PrincipalFrom).
func Guard(opts GuardOptions) func(http.Handler) http.Handler {
	subject := opts.Subject
	if subject == nil {
		subject = ClientAddr
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scope, public := opts.Policy.Rule(r)
			if public {
				next.ServeHTTP(w, r)
				return
			}
			var (
				p       *Principal
				authErr error
			)
			if opts.Auth != nil {
				p, authErr = opts.Auth.Authenticate(r)
				if authErr != nil && !isFailure(authErr) {
					opts.Refuse(w, r, authErr) // the store failed, or the body was too large
					return
				}
			}
			ctx := r.Context()
			if opts.Limiter != nil {
				who := "addr:" + subject(r)
				var override ratelimit.Limits
				if p != nil {
					who = "key:" + p.KeyID
					override = ratelimit.Limits{Reads: p.Limits.Reads, Writes: p.Limits.Writes, Streams: p.Limits.Streams}
				}
				d := opts.Limiter.Allow(who, ratelimit.ClassOf(r), override)
				d.SetHeaders(w.Header())
				if !d.Allowed {
					opts.Refuse(w, r, &ratelimit.ExceededError{Decision: d, What: ratelimit.ClassOf(r).String() + " requests"})
					return
				}
				ctx = ratelimit.WithSubject(ctx, opts.Limiter, who, override.Streams)
			}
			if authErr != nil {
				opts.Refuse(w, r, authErr)
				return
			}
			if p != nil {
				if !p.Has(scope) {
					opts.Refuse(w, r, &Failure{Reason: ReasonForbidden, Scope: scope,
						Message: "this needs the " + string(scope) + " scope, which key " + p.KeyID + " does not have"})
					return
				}
				ctx = WithPrincipal(ctx, p)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// ClientAddr is the request's peer address without its port. Forwarding
// headers are not trusted: they are the client's to forge.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// BearerSubject names a request by the hash of its bearer credential, else
// by its address: the worker protocol's budget is per worker, since a fleet
// behind one NAT shares an address.
func BearerSubject(r *http.Request) string {
	if cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && cred != "" {
		return "cred:" + HashToken(cred)[:32]
	}
	return ClientAddr(r)
}
