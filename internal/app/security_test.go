package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/store"
)

const (
	seedKey   = "operator-chosen-admin-key-0123456789"
	serverKey = "server-key-material-0123456789abcdef"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testServer struct {
	*Server
	dir  string
	logs *syncBuffer
	stop func() // stops the server and waits for it
}

// start runs a server with auth on a SQLite file in a temp dir, logging
// everything (debug) to a buffer.
func start(t *testing.T, sec Security) *testServer {
	t.Helper()
	dir := t.TempDir()
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := NewServer(ctx, ServerConfig{
		Port: -1, AgentPort: -1, Store: "sqlite://" + filepath.Join(dir, "drover.db"), Version: "test",
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Security: sec,
	})
	if err != nil {
		cancel()
		t.Fatalf("NewServer() error = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server stopped with: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &testServer{Server: srv, dir: dir, logs: logs, stop: stop}
}

func authOn() Security {
	return Security{Auth: true, APIKey: seedKey, SecretKey: serverKey}
}

// newKey makes a key straight in the server's auth service.
func (s *testServer) newKey(t *testing.T, p auth.CreateParams) *auth.Created {
	t.Helper()
	if p.Name == "" {
		p.Name = "test"
	}
	c, err := s.sec.keys.Create(context.Background(), p)
	if err != nil {
		t.Fatalf("Create(%+v) error = %v", p, err)
	}
	return c
}

// call sends one request and returns the status and body.
func call(t *testing.T, method, url, key string, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// principals of the matrix: a name and the token it sends ("" none).
type principal struct {
	name   string
	token  string
	scopes []auth.Scope // nil for anonymous, revoked and expired
	valid  bool
}

func matrixPrincipals(t *testing.T, s *testServer) []principal {
	mk := func(name string, scopes ...auth.Scope) principal {
		return principal{name: name, token: s.newKey(t, auth.CreateParams{Name: name, Scopes: scopes}).Token, scopes: scopes, valid: true}
	}
	ps := []principal{
		{name: "no key"},
		mk("read", auth.ScopeRead),
		mk("write", auth.ScopeWrite),
		mk("admin", auth.ScopeAdmin),
		mk("agent", auth.ScopeAgent),
		mk("exec:shell", auth.ScopeExecShell),
		mk("write+exec:shell", auth.ScopeWrite, auth.ScopeExecShell),
	}
	revoked := s.newKey(t, auth.CreateParams{Name: "revoked", Scopes: []auth.Scope{auth.ScopeAdmin}})
	if _, err := s.sec.keys.Revoke(context.Background(), revoked.Key.ID); err != nil {
		t.Fatal(err)
	}
	ps = append(ps, principal{name: "revoked", token: revoked.Token})
	// An expired key, stored as it would be after its time passed.
	expired := "drover-test-expired-key-0123456789"
	err := s.Store().KeyInsert(context.Background(), &store.Key{
		ID: "key_expired", Name: "expired", Kind: store.KeyKindAPI, Scopes: []string{"admin"},
		Hash: auth.HashToken(expired), CreatedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(ps, principal{name: "expired", token: expired})
}

// nativeScopes is the declared policy of the native API: the scope each
// route needs ("" public). Routes not listed (added by later issues) are
// checked against their own declared Access.
var nativeScopes = map[string]auth.Scope{
	"GET /health":                     "",
	"GET /ready":                      "",
	"GET /api/v1/cluster/status":      auth.ScopeRead,
	"GET /api/v1/cluster/health":      auth.ScopeRead,
	"GET /api/v1/devices":             auth.ScopeRead,
	"GET /api/v1/devices/{id}":        auth.ScopeRead,
	"DELETE /api/v1/devices/{id}":     auth.ScopeAdmin,
	"POST /api/v1/tasks":              auth.ScopeWrite,
	"GET /api/v1/tasks":               auth.ScopeRead,
	"POST /api/v1/tasks/batch":        auth.ScopeWrite,
	"GET /api/v1/tasks/{id}":          auth.ScopeRead,
	"DELETE /api/v1/tasks/{id}":       auth.ScopeWrite,
	"POST /api/v1/tasks/{id}/retry":   auth.ScopeWrite,
	"GET /api/v1/tasks/{id}/logs":     auth.ScopeRead,
	"POST /api/v1/keys":               auth.ScopeAdmin,
	"GET /api/v1/keys":                auth.ScopeAdmin,
	"GET /api/v1/keys/{id}":           auth.ScopeAdmin,
	"DELETE /api/v1/keys/{id}":        auth.ScopeAdmin,
	"POST /api/v1/keys/{id}/rotate":   auth.ScopeAdmin,
	"GET /openapi.json":               "",
	"PUT /api/v1/config":              auth.ScopeAdmin,
	"PUT /api/v1/cluster/config":      auth.ScopeAdmin,
	"GET /api/v1/monitor/stream":      auth.ScopeRead,
	"GET /api/v1/config":              auth.ScopeRead,
	"GET /api/v1/cluster/config":      auth.ScopeRead,
	"GET /metrics":                    auth.ScopeRead,
	"GET /api/v1/stats/tasks":         auth.ScopeRead,
	"GET /api/v1/stats/devices":       auth.ScopeRead,
	"GET /api/v1/logs":                auth.ScopeRead,
	"GET /api/v1/cluster/metrics":     auth.ScopeRead,
	"POST /api/v1/devices/{id}/ping":  auth.ScopeWrite,
	"GET /api/v1/devices/{id}/events": auth.ScopeRead,
}

// expectation of one cell: 0 means "let through" (any status but 401/403).
func expect(p principal, need auth.Scope, public bool) int {
	switch {
	case public:
		return 0
	case !p.valid:
		return http.StatusUnauthorized
	}
	for _, s := range p.scopes {
		switch {
		case s == need,
			s == auth.ScopeAdmin && (need == auth.ScopeRead || need == auth.ScopeWrite),
			s == auth.ScopeWrite && need == auth.ScopeRead:
			return 0
		}
	}
	return http.StatusForbidden
}

// TestAuthorizationMatrix (docs/guarantees.md, G11) on the native API: every route
// × every kind of principal against the declared policy, on a real server.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	s := start(t, authOn())
	ps := matrixPrincipals(t, s)
	routes := server.New(server.Options{Engine: s.Engine(), Keys: s.sec.keys}).Routes()
	for _, rt := range routes {
		route, method, pattern := rt.Pattern(), rt.Method, rt.Path
		if strings.Contains(pattern, "stream") {
			continue // long-lived: its guard is the same; covered by the stream tests
		}
		path := strings.NewReplacer("{id}", "x-1", "{name}", "x-1").Replace(pattern)
		need, listed := nativeScopes[route]
		public := listed && need == ""
		if !listed {
			need, public = auth.ScopeFor(rt.EffectiveAccess())
		}
		for _, p := range ps {
			body := ""
			if method == "POST" || method == "PUT" || method == "PATCH" {
				body = "{}"
			}
			status, _, b := call(t, method, s.APIURL()+path, p.token, body)
			want := expect(p, need, public)
			switch {
			case want == 0 && (status == 401 || status == 403):
				t.Errorf("%s as %s: %d %s, want it let through", route, p.name, status, b)
			case want != 0 && status != want:
				t.Errorf("%s as %s: %d %s, want %d", route, p.name, status, b, want)
			}
		}
	}

	// A shell task needs exec:shell besides write; write alone never does.
	shell := `{"task_type":"shell","payload":{"command":"true"}}`
	for _, p := range ps {
		want := http.StatusForbidden
		switch p.name {
		case "no key", "revoked", "expired":
			want = http.StatusUnauthorized
		case "write+exec:shell":
			want = http.StatusCreated
		}
		if status, _, b := call(t, "POST", s.APIURL()+"/api/v1/tasks", p.token, shell); status != want {
			t.Errorf("shell task as %s: %d %s, want %d", p.name, status, b, want)
		}
		if status, _, b := call(t, "POST", s.APIURL()+"/api/v1/tasks/batch", p.token, `{"tasks":[`+shell+`]}`); status != want {
			t.Errorf("shell batch as %s: %d %s, want %d", p.name, status, b, want)
		}
	}
}

// TestWorkerProtocolMatrix is S4 on the worker protocol: registering needs
// a join token or an agent key; every other call needs the worker's own
// credential, which works nowhere else.
func TestWorkerProtocolMatrix(t *testing.T) {
	t.Parallel()
	s := start(t, authOn())
	ps := matrixPrincipals(t, s)
	reg := func(name string) string {
		return fmt.Sprintf(`{"name":%q,"hostname":"h","concurrency":1,"task_types":["echo"]}`, name)
	}
	for i, p := range ps {
		want := http.StatusForbidden
		switch p.name {
		case "no key", "revoked", "expired":
			want = http.StatusUnauthorized
		case "agent":
			want = http.StatusOK
		}
		status, _, b := call(t, "POST", s.AgentURL()+api.AgentRegisterPath, "", reg(fmt.Sprintf("w%d", i)), "Authorization", bearer(p.token))
		if status != want {
			t.Errorf("register as %s: %d %s, want %d", p.name, status, b, want)
		}
		for _, path := range []string{api.AgentHeartbeatPath, api.AgentLeasePath, api.AgentLogsPath, api.AgentProgressPath, api.AgentResultsPath, api.AgentDeregisterPath} {
			status, _, b := call(t, "POST", s.AgentURL()+path, "", `{}`, "Authorization", bearer(p.token))
			if status != http.StatusUnauthorized {
				t.Errorf("%s as %s: %d %s, want 401 (an API key is not a worker credential)", path, p.name, status, b)
			}
		}
	}
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

func register(t *testing.T, s *testServer, token string, body string) (int, api.RegisterResponse, []byte) {
	t.Helper()
	status, _, b := call(t, "POST", s.AgentURL()+api.AgentRegisterPath, "", body, "Authorization", bearer(token))
	var env struct{ Data api.RegisterResponse }
	_ = json.Unmarshal(b, &env)
	return status, env.Data, b
}

// TestJoinTokens is S8's join part: single use, expiry, pool binding; the
// credential it yields works on the worker protocol only; a worker resumes
// its registration with its credential, without a new token.
func TestJoinTokens(t *testing.T) {
	t.Parallel()
	s := start(t, authOn())
	j := s.newKey(t, auth.CreateParams{Join: true, Pool: "gpu", TTL: time.Hour})
	const body = `{"name":"gpu-box","hostname":"gpu-box","concurrency":1,"task_types":["echo"]}`
	status, reg, b := register(t, s, j.Token, `{"name":"gpu-box","hostname":"gpu-box","concurrency":1,"task_types":["echo"],"labels":{"pool":"cpu"}}`)
	if status != http.StatusForbidden {
		t.Errorf("join for another pool: %d %s, want 403", status, b)
	}
	status, reg, b = register(t, s, j.Token, body)
	if status != http.StatusOK || reg.Credential == "" {
		t.Fatalf("join: %d %s", status, b)
	}
	w, err := s.Store().WorkerGet(context.Background(), reg.WorkerID)
	if err != nil || w.Labels["pool"] != "gpu" {
		t.Errorf("joined worker %v, %v: want the label pool=gpu", w, err)
	}
	if status, _, b := register(t, s, j.Token, strings.Replace(body, "gpu-box", "other", 2)); status != http.StatusUnauthorized {
		t.Errorf("second use of a one-use token: %d %s, want 401", status, b)
	}
	// The worker restarts: it proves itself with its credential.
	resume := fmt.Sprintf(`{"name":"gpu-box","hostname":"gpu-box","concurrency":1,"task_types":["echo"],"worker_id":%q,"credential":%q}`, reg.WorkerID, reg.Credential)
	status, again, b := register(t, s, j.Token, resume)
	if status != http.StatusOK || again.WorkerID != reg.WorkerID {
		t.Errorf("resume with the credential: %d %s, want 200 and id %s", status, b, reg.WorkerID)
	}
	if status, _, b := call(t, "POST", s.AgentURL()+api.AgentHeartbeatPath, "", `{}`, "Authorization", "Bearer "+again.Credential); status != http.StatusOK {
		t.Errorf("heartbeat with the credential: %d %s", status, b)
	}
	if status, _, _ := call(t, "GET", s.APIURL()+"/api/v1/devices", again.Credential, ""); status != http.StatusUnauthorized {
		t.Errorf("worker credential on the native API: %d, want 401", status)
	}
	expired := s.newKey(t, auth.CreateParams{Join: true})
	if _, err := s.Store().KeyRevoke(context.Background(), &store.KeyRevokeParams{ID: expired.Key.ID}); err != nil {
		t.Fatal(err)
	}
	if status, _, b := register(t, s, expired.Token, strings.Replace(body, "gpu-box", "late", 2)); status != http.StatusUnauthorized {
		t.Errorf("revoked join token: %d %s, want 401", status, b)
	}
	// Expired a microsecond after it was made: long gone when it arrives.
	stale := s.newKey(t, auth.CreateParams{Join: true, TTL: time.Microsecond})
	if status, _, b := register(t, s, stale.Token, strings.Replace(body, "gpu-box", "stale", 2)); status != http.StatusUnauthorized {
		t.Errorf("expired join token: %d %s, want 401", status, b)
	}
}

// TestRateLimitOverHTTP is S6 on a real listener: 64 racers for 100 write
// slots, exactly 100 succeed; every answer carries the headers; refusals
// are 429 RATE_LIMIT_EXCEEDED with Retry-After.
func TestRateLimitOverHTTP(t *testing.T) {
	t.Parallel()
	sec := authOn()
	sec.RateLimit = true
	s := start(t, sec)
	k := s.newKey(t, auth.CreateParams{Scopes: []auth.Scope{auth.ScopeWrite}})
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
	)
	for range 64 {
		wg.Go(func() {
			for range 2 {
				status, h, b := call(t, "POST", s.APIURL()+"/api/v1/tasks", k.Token, `{"task_type":"echo","payload":{"message":"hi"}}`)
				if h.Get("X-RateLimit-Limit") != "100" || h.Get("X-RateLimit-Reset") == "" || h.Get("X-RateLimit-Remaining") == "" {
					t.Errorf("answer without rate-limit headers: %v", h)
				}
				if status == http.StatusTooManyRequests && (h.Get("Retry-After") == "" || !bytes.Contains(b, []byte("RATE_LIMIT_EXCEEDED"))) {
					t.Errorf("429 without Retry-After or code: %v %s", h, b)
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if counts[http.StatusCreated] != 100 || counts[http.StatusTooManyRequests] != 28 {
		t.Errorf("statuses %v, want exactly 100 × 201 and 28 × 429", counts)
	}
	// Reads have their own budget; the worker protocol its own too.
	if status, h, _ := call(t, "GET", s.APIURL()+"/api/v1/tasks", k.Token, ""); status != http.StatusOK || h.Get("X-RateLimit-Limit") != "1000" {
		t.Errorf("a read after the writes were spent: %d, limit %s", status, h.Get("X-RateLimit-Limit"))
	}
	agent := s.newKey(t, auth.CreateParams{Scopes: []auth.Scope{auth.ScopeAgent}})
	for i := range 200 {
		status, _, b := register(t, s, agent.Token, fmt.Sprintf(`{"name":"fleet-%d","hostname":"h","concurrency":1,"task_types":["echo"]}`, i))
		if status != http.StatusOK {
			t.Fatalf("fleet worker %d: %d %s", i, status, b)
		}
	}
}

// TestSDKAndCLISigning: the Go SDK's signed mode against a real server.
func TestSDKSigning(t *testing.T) {
	t.Parallel()
	s := start(t, authOn())
	k := s.newKey(t, auth.CreateParams{Scopes: []auth.Scope{auth.ScopeWrite}, Signed: true})
	c, err := client.New(s.APIURL(), client.WithSigningKey(k.Token, k.Secret))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Devices.List(ctx, client.DeviceListOptions{Status: "all", Limit: 5}); err != nil {
		t.Errorf("signed GET with a query: %v", err)
	}
	if _, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"signed"}`)}); err != nil {
		t.Errorf("signed POST: %v", err)
	}
	plain, _ := client.New(s.APIURL(), client.WithAPIKey(k.Token))
	_, err = plain.Devices.List(ctx, client.DeviceListOptions{})
	if e, ok := err.(*client.Error); !ok || e.API.Code != "MODE_MISMATCH" {
		t.Errorf("signed key without a signature: %v, want MODE_MISMATCH", err)
	}
}

// TestNoSecretsAtRest is S3: after keys are created, used, rotated and a
// worker joined, no token, secret, credential or server key is in the
// database files or the logs.
func TestNoSecretsAtRest(t *testing.T) {
	t.Parallel()
	s := start(t, authOn())
	ctx := context.Background()
	admin, _ := client.New(s.APIURL(), client.WithAPIKey(seedKey))
	secrets := []string{seedKey, serverKey}
	simple, err := admin.Keys.Create(ctx, api.CreateKeyRequest{Name: "ci", Scopes: []string{"read", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := admin.Keys.Create(ctx, api.CreateKeyRequest{Name: "scaler", Scopes: []string{"write"}, Signed: true})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := admin.Keys.Rotate(ctx, signed.Key.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	join, err := admin.Keys.Create(ctx, api.CreateKeyRequest{Join: true, Pool: "p"})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, simple.Token, signed.Token, signed.Secret, rotated.Token, rotated.Secret, join.Token)
	for _, c := range []*client.Client{
		must(client.New(s.APIURL(), client.WithAPIKey(simple.Token))),
		must(client.New(s.APIURL(), client.WithSigningKey(signed.Token, signed.Secret))),
		must(client.New(s.APIURL(), client.WithSigningKey(rotated.Token, rotated.Secret))),
	} {
		if _, err := c.Tasks.List(ctx, client.TaskListOptions{}); err != nil {
			t.Errorf("using a key: %v", err)
		}
	}
	status, reg, b := register(t, s, join.Token, `{"name":"w","hostname":"w","concurrency":1,"task_types":["echo"]}`)
	if status != http.StatusOK {
		t.Fatalf("join: %d %s", status, b)
	}
	secrets = append(secrets, reg.Credential)
	// Failed attempts are logged too: they must not echo what was sent.
	call(t, "GET", s.APIURL()+"/api/v1/tasks", simple.Token+"x", "")

	s.stop()
	files, _ := filepath.Glob(filepath.Join(s.dir, "drover.db*"))
	if len(files) == 0 {
		t.Fatalf("no database file in %s", s.dir)
	}
	haystacks := map[string][]byte{"logs": []byte(s.logs.String())}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		haystacks[filepath.Base(f)] = b
	}
	if !strings.Contains(s.logs.String(), "key created") {
		t.Errorf("the logs do not show key creation; is the test looking at the right logs?")
	}
	for name, hay := range haystacks {
		for _, secret := range secrets {
			if bytes.Contains(hay, []byte(secret)) {
				t.Errorf("%s contains a secret (%.8s…)", name, secret)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
