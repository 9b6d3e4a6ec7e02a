package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixedNow is every test's clock: the fixtures' times are minutes before it.
var fixedNow = time.Date(2023, 1, 1, 12, 5, 0, 0, time.UTC)

// fakeAPI stands in for a Drover server: tests script its answers and read
// back what the CLI sent.
type fakeAPI struct {
	*httptest.Server
	mux *http.ServeMux

	mu   sync.Mutex
	reqs []sentRequest
}

// sentRequest is one request the fake received.
type sentRequest struct {
	Method, Path, Query, Body string
	Header                    http.Header
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{mux: http.NewServeMux()}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, sentRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(body), r.Header.Clone()})
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// reply answers route ("GET /api/v1/tasks") with the given data objects, raw
// JSON, in turn, repeating the last one.
func (f *fakeAPI) reply(route string, data ...string) {
	var mu sync.Mutex
	n := 0
	f.mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := data[min(n, len(data)-1)]
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":%s,"timestamp":"2023-01-01T12:05:00Z","request_id":"req-1"}`, d)
	})
}

// fail answers route with an error envelope.
func (f *fakeAPI) fail(route string, status int, errorObject string) {
	f.mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":"error","error":%s,"timestamp":"2023-01-01T12:05:00Z","request_id":"req-1"}`, errorObject)
	})
}

func (f *fakeAPI) requests() []sentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRequest(nil), f.reqs...)
}

func (f *fakeAPI) last(t *testing.T) sentRequest {
	t.Helper()
	reqs := f.requests()
	if len(reqs) == 0 {
		t.Fatal("the CLI sent no request")
	}
	return reqs[len(reqs)-1]
}

// result is what a drover command did.
type result struct {
	stdout, stderr string
	code           int
}

// testEnv is a fresh environment for one test: an empty config directory
// and, when api is not nil, DROVER_API_URL pointing at it.
func testEnv(t *testing.T, api *fakeAPI) map[string]string {
	env := map[string]string{envConfigDir: t.TempDir()}
	if api != nil {
		env[envAPIURL] = api.URL
	}
	return env
}

// drover runs the drover command line args in env, with the fixed clock and
// a poll interval short enough that waiting commands return at once.
func drover(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := newMeta(&stdout, &stderr, func(k string) string { return env[k] })
	m.now = func() time.Time { return fixedNow }
	m.pollInterval = time.Millisecond
	code := m.run(context.Background(), args)
	return result{stdout.String(), stderr.String(), code}
}

// mustRun runs args and fails the test unless they succeed.
func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	r := drover(t, env, args...)
	if r.code != exitOK {
		t.Fatalf("drover %s: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("drover %s: stderr:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r.stdout
}

// checkGolden compares got with testdata/<test name>.golden, or rewrites
// the file under -update.
func checkGolden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}

// indented is how -o json prints raw: indented by two spaces.
func indented(t *testing.T, raw string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := jsonIndent(&buf, raw); err != nil {
		t.Fatalf("fixture is not JSON: %v\n%s", err, raw)
	}
	return buf.String()
}
