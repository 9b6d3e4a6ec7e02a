package auth

import (
	"net"
	"net/http"
	"strings"

	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/ratelimit"
)

// Policy says which scope each route needs, read from the routes' own
// declarations (httpapi.Route.Access) and matched exactly as the
// listener's router matches them. A request no route matches (a 404 to
// be) needs read for GET, HEAD and OPTIONS and write for every other
// method, so probing for routes spends the prober's budget.
type Policy struct {
	mux *http.ServeMux
}

// scopeRule is a policy entry: the mux is used only to match, never to serve.
type scopeRule struct {
	scope  Scope
	public bool
	refuse RefuseFunc // the route's own error format, or nil
}

func (scopeRule) ServeHTTP(http.ResponseWriter, *http.Request) {}

// PolicyFor derives the policy of a listener from its route table.
func PolicyFor(routes []httpapi.Route) *Policy {
	p := &Policy{mux: http.NewServeMux()}
	for _, rt := range routes {
		rule := scopeRule{refuse: rt.Errors}
		rule.scope, rule.public = ScopeFor(rt.EffectiveAccess())
		p.mux.Handle(rt.Pattern(), rule)
	}
	return p
}

// ScopeFor is the scope a route's access needs, or public.
func ScopeFor(a httpapi.Access) (scope Scope, public bool) {
	switch a {
	case httpapi.Public:
		return "", true
	case httpapi.Read:
		return ScopeRead, false
	case httpapi.Admin:
		return ScopeAdmin, false
	}
	return ScopeWrite, false
}

// Rule is the scope r needs, or public.
func (p *Policy) Rule(r *http.Request) (scope Scope, public bool) {
	rule := p.rule(r)
	return rule.scope, rule.public
}

func (p *Policy) rule(r *http.Request) scopeRule {
	if p != nil {
		if h, pattern := p.mux.Handler(r); pattern != "" {
			if rule, ok := h.(scopeRule); ok {
				return rule
			}
		}
	}
	if ratelimit.ClassOf(r) == ratelimit.Read {
		return scopeRule{scope: ScopeRead}
	}
	return scopeRule{scope: ScopeWrite}
}

// RefuseFunc writes a refusal in a listener's own format. The guard hands
// it a *domain.Error (DomainError of its *Failure or rate-limit refusal),
// or an error of reading the request or of the store; the X-RateLimit-*
// and Retry-After headers are already set.
type RefuseFunc = httpapi.ErrorFunc

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
			rule := opts.Policy.rule(r)
			scope := rule.scope
			render := opts.Refuse
			if rule.refuse != nil {
				render = rule.refuse
			}
			refuse := func(w http.ResponseWriter, r *http.Request, err error) { render(w, r, DomainError(err)) }
			if rule.public {
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
					refuse(w, r, authErr) // the store failed, or the body was too large
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
					refuse(w, r, &ratelimit.ExceededError{Decision: d, What: ratelimit.ClassOf(r).String() + " requests"})
					return
				}
				ctx = ratelimit.WithSubject(ctx, opts.Limiter, who, override.Streams)
			}
			if authErr != nil {
				refuse(w, r, authErr)
				return
			}
			if p != nil {
				if !p.Has(scope) {
					refuse(w, r, &Failure{Reason: ReasonForbidden, Scope: scope,
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
