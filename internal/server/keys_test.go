package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/ratelimit"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// newGuarded is the API with authentication and rate limits on, and an
// admin token.
func newGuarded(t testing.TB) (http.Handler, string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "api.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := auth.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	keys := auth.New(auth.Options{Store: st, Sealer: sealer})
	admin, err := keys.Create(context.Background(), auth.CreateParams{Name: "admin", Scopes: []auth.Scope{auth.ScopeAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	guard := func(routes []httpapi.Route, errs httpapi.ErrorFunc) func(http.Handler) http.Handler {
		return auth.Guard(auth.GuardOptions{Auth: keys, Policy: auth.PolicyFor(routes),
			Limiter: ratelimit.New(ratelimit.Limits{Reads: 1 << 30, Writes: 1 << 30}, nil), Refuse: errs})
	}
	return server.New(server.Options{Engine: eng, Insight: insight.New(st, nil, time.Now()), Version: "test", Keys: keys, Guard: guard}).Handler(), admin.Token
}

func TestKeysAPI(t *testing.T) {
	t.Parallel()
	h, admin := newGuarded(t)
	a := do(t, h, "POST", "/api/v1/keys", `{"name":"ci","scopes":["read","write"],"expires_in":3600,"rate_limits":{"writes":5}}`, "X-API-Key", admin)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %+v", a.status, a.env.Error)
	}
	var c api.CreatedKey
	json.Unmarshal(a.env.Data, &c)
	if !strings.HasPrefix(c.Token, "drv_") || c.Secret != "" || c.Key.ExpiresAt == nil || c.Key.RateLimits.Writes != 5 {
		t.Errorf("created %+v", c)
	}
	if a := do(t, h, "GET", "/api/v1/tasks", "", "Authorization", "Bearer "+c.Token); a.status != http.StatusOK || a.header.Get("X-RateLimit-Limit") == "" {
		t.Errorf("using the new key: %d, headers %v", a.status, a.header)
	}
	if a := do(t, h, "GET", "/api/v1/keys", "", "X-API-Key", c.Token); a.status != http.StatusForbidden || a.env.Error.Code != "PERMISSION_DENIED" {
		t.Errorf("listing keys with a write key: %d %+v, want 403", a.status, a.env.Error)
	}
	a = do(t, h, "GET", "/api/v1/keys", "", "X-API-Key", admin)
	if a.status != http.StatusOK || strings.Contains(string(a.env.Data), c.Token) {
		t.Errorf("list: %d; it must never show tokens: %s", a.status, a.env.Data)
	}
	a = do(t, h, "POST", "/api/v1/keys/"+c.Key.ID+"/rotate", `{"grace_seconds":0}`, "X-API-Key", admin)
	var r api.CreatedKey
	json.Unmarshal(a.env.Data, &r)
	if a.status != http.StatusCreated || r.Token == c.Token || r.OldKey == nil || r.OldKey.RotatedTo != r.Key.ID {
		t.Fatalf("rotate: %d %s", a.status, a.env.Data)
	}
	if a := do(t, h, "GET", "/api/v1/tasks", "", "X-API-Key", c.Token); a.status != http.StatusUnauthorized {
		t.Errorf("old key after a rotation without grace: %d, want 401", a.status)
	}
	if a := do(t, h, "DELETE", "/api/v1/keys/"+r.Key.ID, "", "X-API-Key", admin); a.status != http.StatusOK {
		t.Errorf("revoke: %d %+v", a.status, a.env.Error)
	}
	if a := do(t, h, "GET", "/api/v1/tasks", "", "X-API-Key", r.Token); a.status != http.StatusUnauthorized || a.env.Error.Details["reason"] != "revoked" {
		t.Errorf("revoked key: %d %+v, want 401 revoked", a.status, a.env.Error)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"name":"x"}`, "scopes"},
		{`{"name":"x","scopes":["root"]}`, "scopes"},
		{`{"scopes":["read"]}`, "name"},
		{`{"name":"x","scopes":["read"],"expires_in":-1}`, "expires_in"},
		{`{"join":true,"scopes":["read"]}`, "scopes"},
		{`{"name":"x","scopes":["read"],"pool":"p"}`, "pool"},
	} {
		a := do(t, h, "POST", "/api/v1/keys", tc.body, "X-API-Key", admin)
		if a.status != http.StatusBadRequest || a.env.Error.Details["field"] != tc.field {
			t.Errorf("create %s: %d %+v, want 400 on %s", tc.body, a.status, a.env.Error, tc.field)
		}
	}
	if a := do(t, h, "GET", "/api/v1/keys/key_nope", "", "X-API-Key", admin); a.status != http.StatusNotFound || a.env.Error.Code != "KEY_NOT_FOUND" {
		t.Errorf("unknown key: %d %+v", a.status, a.env.Error)
	}
	if a := do(t, h, "GET", "/health", ""); a.status != http.StatusOK || a.header.Get("X-RateLimit-Limit") != "" {
		t.Errorf("/health without a key: %d, rate-limit headers %q: want 200, public and uncounted", a.status, a.header.Get("X-RateLimit-Limit"))
	}
}

// FuzzGuardedAPI throws arbitrary bodies and key headers at the key
// endpoints behind the guard: the answer is always the envelope, never a 5xx.
func FuzzGuardedAPI(f *testing.F) {
	h, admin := newGuarded(f)
	seeds := []string{
		`{"name":"ci","scopes":["read","write"],"expires_in":2592000}`,
		`{"name":"scaler","scopes":["write"],"signed":true}`,
		`{"join":true,"pool":"gpu","uses":3,"expires_in":3600}`,
		`{"grace_seconds":0}`, `{"grace_seconds":-5}`, `{}`, `null`, `[`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s, admin, "")
		f.Add(uint8(i), s, "", "Bearer "+admin)
	}
	f.Add(uint8(0), `{}`, "drv_"+strings.Repeat("a", 47), "Bearer x")
	f.Add(uint8(1), `{}`, " ", "Bearer")
	methods := []struct{ method, path string }{
		{"POST", "/api/v1/keys"}, {"GET", "/api/v1/keys"}, {"POST", "/api/v1/keys/key_x/rotate"},
		{"DELETE", "/api/v1/keys/key_x"}, {"GET", "/api/v1/keys/key_x?token=abc"}, {"POST", "/api/v1/tasks"},
	}
	f.Fuzz(func(t *testing.T, which uint8, body, key, authz string) {
		m := methods[int(which)%len(methods)]
		r := httptest.NewRequest(m.method, m.path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if key != "" {
			r.Header["X-Api-Key"] = []string{key}
		}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q = %d %s", m.method, m.path, body, w.Code, w.Body.String())
		}
		var env api.Envelope
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.RequestID == "" {
			t.Fatalf("%s %s: not the envelope: %s", m.method, m.path, w.Body.String())
		}
	})
}
