package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// serverNow is the fixed server clock of the tests.
var serverNow = time.Date(2026, 5, 16, 7, 3, 43, 0, time.UTC)

type clock struct{ t atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.t.Store(t.UnixNano()); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) step(d time.Duration) {
	c.t.Add(int64(d))
}

// countingStore counts key lookups, to prove what never reaches the store.
type countingStore struct {
	Store
	lookups atomic.Int64
}

func (s *countingStore) KeyGetByHash(ctx context.Context, hash string) (*store.Key, error) {
	s.lookups.Add(1)
	return s.Store.KeyGetByHash(ctx, hash)
}

type bundle struct {
	st    *countingStore
	path  string
	clock *clock
	svc   *Service
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlite.Open() error = %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

const testServerKey = "0123456789abcdef0123456789abcdef-test"

func setup(t *testing.T) *bundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "drover.db")
	b := &bundle{st: &countingStore{Store: openStore(t, path)}, path: path, clock: newClock(serverNow)}
	b.svc = b.service(b.st)
	return b
}

// service is another server on the same store: same server key, own cache.
func (b *bundle) service(st Store) *Service {
	sealer, err := NewSealer([]byte(testServerKey))
	if err != nil {
		panic(err)
	}
	return New(Options{Store: st, Sealer: sealer, Now: b.clock.now, CacheTTL: time.Second})
}

func (b *bundle) create(t *testing.T, p CreateParams) *Created {
	t.Helper()
	if p.Name == "" {
		p.Name = "test"
	}
	c, err := b.svc.Create(context.Background(), p)
	if err != nil {
		t.Fatalf("Create(%+v) error = %v", p, err)
	}
	return c
}

// signedRequest builds a request signed at ts with secret.
func signedRequest(t *testing.T, method, target, body, token, secret string, ts int64) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	tsText := strconv.FormatInt(ts, 10)
	path, query, _ := strings.Cut(r.RequestURI, "?")
	c, err := api.Canonical(method, path, query, tsText, "1.0.0", []byte(body))
	if err != nil {
		t.Fatalf("api.Canonical() error = %v", err)
	}
	r.Header.Set("token", token)
	r.Header.Set("timestamp", tsText)
	r.Header.Set("version", "1.0.0")
	r.Header.Set("sign_str", api.Sign(secret, c))
	return r
}

func reasonOf(err error) Reason {
	var f *Failure
	if errors.As(err, &f) {
		return f.Reason
	}
	return ""
}

// TestSignedMode (docs/guarantees.md, G12): every case of a signed request against
// a fixed server clock.
func TestSignedMode(t *testing.T) {
	t.Parallel()
	ms := serverNow.UnixMilli()
	const target = "/api/deployment/task/change_points?b=2&a=1"
	const body = `{"task_id":388,"points":2}`
	tests := []struct {
		name   string
		mutate func(r *http.Request, token, secret string) *http.Request
		ts     int64
		want   Reason // "" for accepted
	}{
		{"valid", nil, ms, ""},
		{"299s early", nil, ms - 299_000, ""},
		{"299s late", nil, ms + 299_000, ""},
		{"301s early", nil, ms - 301_000, ReasonTimestampSkew},
		{"301s late", nil, ms + 301_000, ReasonTimestampSkew},
		{"timestamp in seconds", nil, ms / 1000, ReasonTimestampSeconds},
		{"body plus one byte", func(r *http.Request, _, _ string) *http.Request {
			return withBody(r, body+" ")
		}, ms, ReasonBadSignature},
		{"path changed", func(r *http.Request, _, _ string) *http.Request {
			return retarget(r, "/api/deployment/task/change_point?b=2&a=1")
		}, ms, ReasonBadSignature},
		{"query order changed", func(r *http.Request, _, _ string) *http.Request {
			return retarget(r, "/api/deployment/task/change_points?a=1&b=2")
		}, ms, ""},
		{"query value changed", func(r *http.Request, _, _ string) *http.Request {
			return retarget(r, "/api/deployment/task/change_points?b=3&a=1")
		}, ms, ReasonBadSignature},
		{"version changed", func(r *http.Request, _, _ string) *http.Request {
			r.Header.Set("version", "1.0.1")
			return r
		}, ms, ReasonBadSignature},
		{"timestamp changed", func(r *http.Request, _, _ string) *http.Request {
			r.Header.Set("timestamp", strconv.FormatInt(ms+1, 10))
			return r
		}, ms, ReasonBadSignature},
		{"signed with another secret", func(r *http.Request, _, _ string) *http.Request {
			return signedRequest(t, r.Method, r.RequestURI, body, r.Header.Get("token"), "drvs_other", ms)
		}, ms, ReasonBadSignature},
		{"not hex", func(r *http.Request, _, _ string) *http.Request {
			r.Header.Set("sign_str", "zz")
			return r
		}, ms, ReasonBadSignature},
		{"empty sign_str", func(r *http.Request, _, _ string) *http.Request {
			r.Header.Set("sign_str", "")
			return r
		}, ms, ReasonModeMismatch},
		{"sent as a simple key", func(r *http.Request, token, _ string) *http.Request {
			s := httptest.NewRequest(r.Method, r.RequestURI, strings.NewReader(body))
			s.Header.Set("X-API-Key", token)
			return s
		}, ms, ReasonModeMismatch},
		{"no timestamp", func(r *http.Request, _, _ string) *http.Request {
			r.Header.Del("timestamp")
			return r
		}, ms, ReasonBadTimestamp},
		{"unknown token", func(r *http.Request, _, _ string) *http.Request {
			r.Header.Set("token", newToken(prefixAPI))
			return r
		}, ms, ReasonUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			k := b.create(t, CreateParams{Scopes: []Scope{ScopeWrite}, Signed: true})
			r := signedRequest(t, "POST", target, body, k.Token, k.Secret, tc.ts)
			if tc.mutate != nil {
				r = tc.mutate(r, k.Token, k.Secret)
			}
			p, err := b.svc.Authenticate(r)
			if got := reasonOf(err); got != tc.want || (tc.want == "" && err != nil) {
				t.Fatalf("Authenticate() = %v, %v; want reason %q", p, err, tc.want)
			}
			if tc.want == "" && p.KeyID != k.Key.ID {
				t.Errorf("Authenticate() key = %s, want %s", p.KeyID, k.Key.ID)
			}
		})
	}
}

func withBody(r *http.Request, body string) *http.Request {
	s := httptest.NewRequest(r.Method, r.RequestURI, strings.NewReader(body))
	s.Header = r.Header.Clone()
	return s
}

func retarget(r *http.Request, target string) *http.Request {
	s := httptest.NewRequest(r.Method, target, r.Body)
	s.Header = r.Header.Clone()
	return s
}

// TestReplay: a signature is refused the second time, on another server
// sharing the store, and after a restart, for the whole window.
func TestReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.create(t, CreateParams{Scopes: []Scope{ScopeRead}, Signed: true})
	ts := serverNow.UnixMilli()
	send := func(svc *Service) error {
		_, err := svc.Authenticate(signedRequest(t, "GET", "/api/v1/tasks?limit=5", "", k.Token, k.Secret, ts))
		return err
	}
	if err := send(b.svc); err != nil {
		t.Fatalf("first request: %v", err)
	}
	if got := reasonOf(send(b.svc)); got != ReasonReplayed {
		t.Errorf("replay on the same server: reason %q, want %q", got, ReasonReplayed)
	}
	other := b.service(b.st) // a second server on the same store
	if got := reasonOf(send(other)); got != ReasonReplayed {
		t.Errorf("replay on another server: reason %q, want %q", got, ReasonReplayed)
	}
	// Restart: close the store, open the file again, a new service.
	b.st.Store.(*sqlite.Store).Close()
	restarted := b.service(openStore(t, b.path))
	b.clock.step(4*time.Minute + 59*time.Second)
	if got := reasonOf(send(restarted)); got != ReasonReplayed {
		t.Errorf("replay after a restart, 4m59s later: reason %q, want %q", got, ReasonReplayed)
	}
	b.clock.step(2 * time.Second)
	if got := reasonOf(send(restarted)); got != ReasonTimestampSkew {
		t.Errorf("replay after the window: reason %q, want %q", got, ReasonTimestampSkew)
	}
}

// TestRotation: during the grace both secrets sign; after it only the new.
func TestRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	old := b.create(t, CreateParams{Scopes: []Scope{ScopeRead}, Signed: true})
	c, oldKey, err := b.svc.Rotate(ctx, old.Key.ID, time.Hour)
	if err != nil {
		t.Fatalf("Rotate() error = %v", err)
	}
	if oldKey.RotatedTo != c.Key.ID || !c.Key.Signed() || c.Secret == "" || c.Secret == old.Secret {
		t.Fatalf("Rotate() = new %+v, old %+v: want a new signed key with a new secret", c.Key, oldKey)
	}
	n := 0
	send := func(token, secret string) error {
		n++
		_, err := b.svc.Authenticate(signedRequest(t, "GET", "/api/v1/devices?n="+strconv.Itoa(n), "", token, secret, b.clock.now().UnixMilli()))
		return err
	}
	if err := send(old.Token, old.Secret); err != nil {
		t.Errorf("old key during the grace: %v", err)
	}
	if err := send(c.Token, c.Secret); err != nil {
		t.Errorf("new key during the grace: %v", err)
	}
	b.clock.step(time.Hour)
	if got := reasonOf(send(old.Token, old.Secret)); got != ReasonExpired {
		t.Errorf("old key after the grace: reason %q, want %q", got, ReasonExpired)
	}
	if err := send(c.Token, c.Secret); err != nil {
		t.Errorf("new key after the grace: %v", err)
	}
}

// TestPresentedKey: every way a key may be presented, and the conflicts.
func TestPresentedKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.create(t, CreateParams{Scopes: []Scope{ScopeRead}})
	other := b.create(t, CreateParams{Scopes: []Scope{ScopeRead}})
	tests := []struct {
		name   string
		query  string
		header map[string][]string
		want   Reason
	}{
		{"X-API-Key", "", map[string][]string{"X-API-Key": {k.Token}}, ""},
		{"X-API-KEY (document 003)", "", map[string][]string{"X-API-KEY": {k.Token}}, ""},
		{"Authorization Bearer", "", map[string][]string{"Authorization": {"Bearer " + k.Token}}, ""},
		{"token header (000, 002)", "", map[string][]string{"token": {k.Token}}, ""},
		{"token query (002)", "?token=" + k.Token, nil, ""},
		{"same key twice", "?token=" + k.Token, map[string][]string{"X-API-Key": {k.Token}}, ""},
		{"none", "", nil, ReasonMissing},
		{"empty", "", map[string][]string{"X-API-Key": {""}}, ReasonEmpty},
		{"empty bearer", "", map[string][]string{"Authorization": {"Bearer "}}, ReasonEmpty},
		{"token vs X-API-Key", "", map[string][]string{"X-API-Key": {k.Token}, "token": {other.Token}}, ReasonConflicting},
		{"Bearer vs query", "?token=" + other.Token, map[string][]string{"Authorization": {"Bearer " + k.Token}}, ReasonConflicting},
		{"unknown", "", map[string][]string{"X-API-Key": {"not-a-key"}}, ReasonUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/devices"+tc.query, nil)
			for name, vs := range tc.header {
				for _, v := range vs {
					r.Header.Add(name, v)
				}
			}
			_, err := b.svc.Authenticate(r)
			if got := reasonOf(err); got != tc.want || (tc.want == "" && err != nil) {
				t.Errorf("Authenticate() error = %v, want reason %q", err, tc.want)
			}
		})
	}
}

// TestChecksumBeforeLookup: a mistyped Drover token never reaches the store.
func TestChecksumBeforeLookup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.create(t, CreateParams{Scopes: []Scope{ScopeRead}})
	flip := byte('a')
	if k.Token[len(k.Token)-1] == 'a' {
		flip = 'b'
	}
	bad := k.Token[:len(k.Token)-1] + string(flip) // the checksum's last character changed
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", bad)
	before := b.st.lookups.Load()
	if _, err := b.svc.Authenticate(r); reasonOf(err) != ReasonMalformed {
		t.Errorf("Authenticate(bad checksum) error = %v, want %q", err, ReasonMalformed)
	}
	if n := b.st.lookups.Load() - before; n != 0 {
		t.Errorf("a token with a bad checksum cost %d store lookups, want 0", n)
	}
}

// TestRevocationWithinASecond: another server's cache trusts a revoked key
// for at most CacheTTL.
func TestRevocationWithinASecond(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.create(t, CreateParams{Scopes: []Scope{ScopeRead}})
	other := b.service(b.st)
	req := func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-API-Key", k.Token)
		return r
	}
	if _, err := other.Authenticate(req()); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if _, err := b.svc.Revoke(context.Background(), k.Key.ID); err != nil {
		t.Fatalf("Revoke() error = %v", err)
	}
	if _, err := b.svc.Authenticate(req()); reasonOf(err) != ReasonRevoked {
		t.Errorf("revoking server: error = %v, want revoked at once", err)
	}
	b.clock.step(time.Second)
	if _, err := other.Authenticate(req()); reasonOf(err) != ReasonRevoked {
		t.Errorf("other server 1s later: error = %v, want revoked", err)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have []Scope
		want Scope
		ok   bool
	}{
		{[]Scope{ScopeAdmin}, ScopeRead, true},
		{[]Scope{ScopeAdmin}, ScopeWrite, true},
		{[]Scope{ScopeAdmin}, ScopeExecShell, false},
		{[]Scope{ScopeAdmin}, ScopeAgent, false},
		{[]Scope{ScopeWrite}, ScopeRead, true},
		{[]Scope{ScopeWrite}, ScopeExecShell, false},
		{[]Scope{ScopeWrite}, ScopeAdmin, false},
		{[]Scope{ScopeRead}, ScopeWrite, false},
		{[]Scope{ScopeAgent}, ScopeRead, false},
		{[]Scope{ScopeExecShell}, ScopeWrite, false},
		{[]Scope{ScopeExecShell, ScopeWrite}, ScopeExecShell, true},
	}
	for _, tc := range tests {
		if got := grants(tc.have, tc.want); got != tc.ok {
			t.Errorf("grants(%v, %s) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
	if _, err := ParseScopes("read,root"); err == nil {
		t.Errorf("ParseScopes(read,root) accepted an unknown scope")
	}
	got, err := ParseScopes("write, read,write", "exec:shell")
	if err != nil || strings.Join(scopeStrings(got), ",") != "exec:shell,read,write" {
		t.Errorf("ParseScopes() = %v, %v; want exec:shell,read,write", got, err)
	}
}

func TestSealer(t *testing.T) {
	t.Parallel()
	s, err := NewSealer([]byte(testServerKey))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("key_a", "drvs_secret")
	if strings.Contains(string(sealed), "drvs_secret") {
		t.Fatalf("Seal() output contains the secret")
	}
	if got, err := s.Open("key_a", sealed); err != nil || got != "drvs_secret" {
		t.Errorf("Open() = %q, %v; want the secret", got, err)
	}
	if _, err := s.Open("key_b", sealed); err == nil {
		t.Errorf("Open() under another key id succeeded; the id must be bound")
	}
	other, _ := NewSealer([]byte(testServerKey + "x"))
	if _, err := other.Open("key_a", sealed); err == nil {
		t.Errorf("Open() with another server key succeeded")
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Errorf("NewSealer(short) accepted a weak server key")
	}
}

func TestSignedKeyNeedsServerKey(t *testing.T) {
	t.Parallel()
	st := openStore(t, filepath.Join(t.TempDir(), "drover.db"))
	svc := New(Options{Store: st})
	_, err := svc.Create(context.Background(), CreateParams{Name: "x", Scopes: []Scope{ScopeRead}, Signed: true})
	if reasonOf(err) != ReasonNoServerKey {
		t.Errorf("Create(signed) without a server key: error = %v, want %q", err, ReasonNoServerKey)
	}
	if DomainError(err).(*domain.Error).Code != domain.CodeUnavailable {
		t.Errorf("DomainError(%v) code is not SERVICE_UNAVAILABLE", err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	tok := newToken(prefixAPI)
	if !wellFormed(tok) || len(tok) != 51 {
		t.Fatalf("newToken() = %q (len %d), not well formed", tok, len(tok))
	}
	for _, bad := range []string{tok[:50], tok + "a", "drv_" + strings.Repeat("a", 47), strings.Replace(tok, "drv_", "drj_", 1)} {
		if wellFormed(bad) {
			t.Errorf("wellFormed(%q) = true", bad)
		}
	}
	if !wellFormed("an operator's own key") {
		t.Errorf("wellFormed() judged a token without a Drover prefix")
	}
}
