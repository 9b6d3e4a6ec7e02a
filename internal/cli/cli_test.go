package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
)

// The CLI's tests run its commands against a real server (drovertest) with
// in-process workers, so that they fail when the server's answers change
// under the CLI. A recorder in the CLI's transport shows what it sent.

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// later is the CLI's clock in tests: five minutes ahead, so that anything
// the test made prints as "5m ago" however long the test takes.
func later() time.Time { return time.Now().Add(5 * time.Minute) }

// newServer starts a server for one test. Leases and devices outlive the
// pauses of a loaded machine (-race on two cores): these tests are about
// output, not expiry, which drovertest's fast defaults are for.
func newServer(t *testing.T, opts drovertest.Options) *drovertest.Server {
	t.Helper()
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = time.Minute
	}
	if opts.OfflineThreshold == 0 {
		opts.OfflineThreshold = time.Minute
	}
	return drovertest.NewServer(t, opts)
}

// sentRequest is one request the CLI sent, and the body of the answer.
type sentRequest struct {
	Method, Host, Path, Query, Body string
	Header                          http.Header
	Answer                          []byte
}

// recorder is an http.RoundTripper that keeps what passes through it.
type recorder struct {
	mu   sync.Mutex
	reqs []sentRequest
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	sent := sentRequest{req.Method, req.URL.Host, req.URL.EscapedPath(), req.URL.RawQuery, string(body), req.Header.Clone(), nil}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sent.Answer, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(sent.Answer))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, sent)
	r.mu.Unlock()
	return resp, err
}

// result is what a drover command did.
type result struct {
	stdout, stderr string
	code           int
	reqs           []sentRequest // what it sent
}

// last is the latest request the command sent.
func (r result) last(t *testing.T) sentRequest {
	t.Helper()
	if len(r.reqs) == 0 {
		t.Fatal("the CLI sent no request")
	}
	return r.reqs[len(r.reqs)-1]
}

// answered is the data object of the latest answer the command received,
// indented as -o json prints it: what -o json must print byte for byte.
func (r result) answered(t *testing.T) string {
	t.Helper()
	return indentData(t, r.last(t).Answer)
}

func indentData(t *testing.T, answer []byte) string {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(answer, &env); err != nil {
		t.Fatalf("answer is not an envelope: %v\n%s", err, answer)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, env.Data, "", "  "); err != nil {
		t.Fatal(err)
	}
	return buf.String() + "\n"
}

// testEnv is a fresh environment for one test: an empty config directory
// and, when srv is not nil, DROVER_API_URL (and DROVER_API_KEY, with auth)
// pointing at it.
func testEnv(t *testing.T, srv *drovertest.Server) map[string]string {
	env := map[string]string{envConfigDir: t.TempDir()}
	if srv != nil {
		env[envAPIURL] = srv.APIURL()
		if srv.APIKey() != "" {
			env[envAPIKey] = srv.APIKey()
		}
	}
	return env
}

// drover runs the drover command line args in env, with the test clock and
// a poll interval short enough that waiting commands return at once.
func drover(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return droverCtx(t, context.Background(), env, args...)
}

// droverCtx is drover until ctx ends, for commands that run until stopped.
func droverCtx(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := newMeta(&stdout, &stderr, func(k string) string { return env[k] })
	m.now = later
	m.pollInterval = time.Millisecond
	rec := &recorder{}
	m.transport = rec
	code := m.run(ctx, args)
	return result{stdout.String(), stderr.String(), code, rec.reqs}
}

// mustRun runs args and fails the test unless they succeed.
func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	return mustRunR(t, env, args...).stdout
}

// mustRunR is mustRun returning the whole result.
func mustRunR(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	r := drover(t, env, args...)
	if r.code != exitOK {
		t.Fatalf("drover %s: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("drover %s: stderr:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
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

// timestamp matches the RFC 3339 times the CLI prints.
var timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)

// scrub makes a real server's output comparable with a golden file: each
// id becomes a numbered one of the same length (so columns stay aligned),
// times become TIME, and the value of each labelled line ("Label:  value")
// named in vary becomes <varies>.
func scrub(out string, ids []string, vary ...string) string {
	for i, id := range ids {
		prefix := id[:strings.IndexAny(id, "-_")+1] // task-, key_
		out = strings.ReplaceAll(out, id, fmt.Sprintf("%s%0*d", prefix, len(id)-len(prefix), i+1))
	}
	out = timestamp.ReplaceAllString(out, "TIME")
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		for _, label := range vary {
			if rest, ok := strings.CutPrefix(line, label+":"); ok {
				lines[i] = line[:len(line)-len(strings.TrimLeft(rest, " "))] + "<varies>"
			}
		}
	}
	return strings.Join(lines, "\n")
}

// data is the data object of the server's answer to GET path, indented as
// -o json prints it.
func data(t *testing.T, srv *drovertest.Server, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.APIURL()+path, nil)
	if srv.APIKey() != "" {
		req.Header.Set("X-API-Key", srv.APIKey())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return indentData(t, body)
}

// submit submits req through the SDK, for tests of other commands.
func submit(t *testing.T, srv *drovertest.Server, req api.SubmitTaskRequest) string {
	t.Helper()
	res, err := srv.Client.Tasks.Submit(context.Background(), req)
	if err != nil {
		t.Fatalf("Submit(%s) = %v", req.TaskType, err)
	}
	return res.TaskID
}

// waitFor waits until task id has ended.
func waitFor(t *testing.T, srv *drovertest.Server, id string) *api.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	task, err := srv.Client.Tasks.Wait(ctx, id, 0)
	if err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	return task
}

// echoReq is an echo task's request.
func echoReq(message string, repeat int) api.SubmitTaskRequest {
	p, _ := json.Marshal(map[string]any{"message": message, "repeat": repeat})
	return api.SubmitTaskRequest{TaskType: "echo", Payload: p}
}

// delayed is req held back for an hour: it stays pending.
func delayed(req api.SubmitTaskRequest) api.SubmitTaskRequest {
	req.DelaySeconds = new(3600.0)
	return req
}
