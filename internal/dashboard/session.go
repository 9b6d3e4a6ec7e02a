package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
)

// Sessions. Every visitor gets a random session id in an HttpOnly,
// SameSite=Strict cookie; its CSRF token is an HMAC of that id under a
// per-process secret, so anonymous visitors (auth off) need no server-side
// state and a token cannot be forged or carried to another session. A
// login maps the session id to the API key on the server: the key never
// travels back to the browser, and scripts cannot read the cookie.
// Sessions live in this process's memory: a restart, or a second server
// behind a load balancer, asks for the key again.

const (
	cookieName  = "drover_session"
	csrfField   = "csrf"
	sessionIdle = 12 * time.Hour
	maxSessions = 10_000
)

type session struct {
	token string // the API key
	seen  time.Time
}

type sessions struct {
	secret []byte
	mu     sync.Mutex
	byID   map[string]*session
}

func newSessions() *sessions {
	return &sessions{secret: []byte(rand.Text()), byID: map[string]*session{}}
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfToken is the token the forms of session id carry.
func (s *sessions) csrfToken(id string) string { return s.sign("csrf:" + id) }

// sign is the hex HMAC of msg under the process's secret.
func (s *sessions) sign(msg string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *sessions) key(id string, now time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byID[id]
	if !ok {
		return "", false
	}
	if now.Sub(se.seen) > sessionIdle {
		delete(s.byID, id)
		return "", false
	}
	se.seen = now
	return se.token, true
}

func (s *sessions) put(id, token string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		for k, se := range s.byID {
			if now.Sub(se.seen) > sessionIdle || len(s.byID) >= maxSessions {
				delete(s.byID, k)
			}
		}
	}
	s.byID[id] = &session{token: token, seen: now}
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// sessionID is r's session id, issuing one (a new cookie) when it has none.
func (d *Dashboard) sessionID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieName); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	return d.issue(w, r)
}

func (d *Dashboard) issue(w http.ResponseWriter, r *http.Request) string {
	id := newID()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	// Later code in this request reads the id from the request.
	r.Header.Del("Cookie")
	r.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	return id
}

// viewer is who is looking, for the templates: what to show.
type viewer struct {
	Auth      bool   // authentication is on
	Name      string // the key's name
	CSRF      string
	Read      bool
	Write     bool
	Admin     bool
	ExecShell bool
	// From is the event bus's last id before the page read anything: its
	// live stream starts there, so no change between the read and the
	// stream's start is missed.
	From int64
}

type handler func(w http.ResponseWriter, r *http.Request, v *viewer) error

// wrap authenticates r by its session and checks it holds need, then
// serves it with the principal in its context, as the API's guard would.
func (d *Dashboard) wrap(need auth.Scope, h handler) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := d.sessionID(w, r)
		var from int64
		if d.opts.Bus != nil {
			from = d.opts.Bus.Last()
		}
		v := &viewer{From: from, Auth: d.opts.Auth, CSRF: d.sessions.csrfToken(id), Read: true, Write: true, Admin: d.opts.Keys != nil, ExecShell: true}
		if d.opts.Auth {
			p, err := d.principal(r, id)
			if err != nil {
				return err
			}
			if p == nil {
				if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" && !strings.HasSuffix(r.URL.Path, "/live") {
					http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return nil
				}
				return domain.Errorf(domain.CodeAuthenticationNeeded, "log in with an API key first")
			}
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			v.Name, v.Read, v.Write, v.Admin, v.ExecShell = p.Name, p.Has(auth.ScopeRead), p.Has(auth.ScopeWrite), p.Has(auth.ScopeAdmin), p.Has(auth.ScopeExecShell)
			if need != "" {
				if err := auth.Require(r.Context(), need); err != nil {
					return err
				}
			}
		}
		return h(w, r, v)
	}
}

// principal is whom session id is logged in as, or nil.
func (d *Dashboard) principal(r *http.Request, id string) (*auth.Principal, error) {
	token, ok := d.sessions.key(id, time.Now())
	if !ok {
		return nil, nil
	}
	p, err := d.authenticate(r, token)
	var f *auth.Failure
	if errors.As(err, &f) {
		d.sessions.drop(id) // revoked or expired since the login
		return nil, nil
	}
	return p, err
}

// authenticate checks token as the API would, given as X-API-Key.
func (d *Dashboard) authenticate(r *http.Request, token string) (*auth.Principal, error) {
	probe, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "/", nil)
	probe.Header.Set("X-API-Key", token)
	probe.RemoteAddr = r.RemoteAddr
	return d.opts.Keys.Authenticate(probe)
}

// checked refuses an action without its session's CSRF token, or sent
// across origins (Sec-Fetch-Site / Origin): belt and braces beside the
// SameSite=Strict cookie.
func (d *Dashboard) checked(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		if err := d.csrf.Check(r); err != nil {
			return domain.Errorf(domain.CodePermissionDenied, "cross-origin request refused")
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if !hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(v.CSRF)) {
			return domain.Errorf(domain.CodePermissionDenied, "the form is stale or forged (CSRF token mismatch): reload the page and try again")
		}
		return h(w, r, v)
	}
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) error {
	id := d.sessionID(w, r)
	if !d.opts.Auth {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return d.render(w, r, "login", &viewer{Auth: true, CSRF: d.sessions.csrfToken(id)}, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

type loginData struct {
	Next, Error string
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) error {
	id := d.sessionID(w, r)
	v := &viewer{Auth: d.opts.Auth, CSRF: d.sessions.csrfToken(id)}
	if err := d.checked(func(http.ResponseWriter, *http.Request, *viewer) error { return nil })(w, r, v); err != nil {
		return err
	}
	next := safeNext(r.PostFormValue("next"))
	if !d.opts.Auth {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	token := strings.TrimSpace(r.PostFormValue("key"))
	p, err := d.authenticate(r, token)
	var f *auth.Failure
	switch {
	case errors.As(err, &f):
		d.log.Warn("dashboard login refused", "reason", string(f.Reason), "addr", auth.ClientAddr(r))
		return d.render(w, r, "login", v, loginData{Next: next, Error: "That key was not accepted: " + f.Message})
	case err != nil:
		return err
	case p.Kind != domain.KeyKindAPI:
		return d.render(w, r, "login", v, loginData{Next: next, Error: "That is not an API key."})
	}
	// A fresh session id on login: an id planted before it is worth nothing.
	d.sessions.drop(id)
	id = d.issue(w, r)
	d.sessions.put(id, token, time.Now())
	d.log.Info("dashboard login", "key_id", p.KeyID, "addr", auth.ClientAddr(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	if c, err := r.Cookie(cookieName); err == nil {
		d.sessions.drop(c.Value)
	}
	d.issue(w, r)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	return nil
}
