package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
)

// lines collects what a task logs, safely across goroutines.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
	got chan string // each complete line, if non-nil
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.got != nil {
		for s := range strings.Lines(string(p)) {
			l.got <- strings.TrimSuffix(s, "\n")
		}
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTask(typ, payload string) *Task {
	return &Task{ID: "task-1", Type: typ, Attempt: 2, Epoch: 3, Payload: json.RawMessage(payload), Log: &lines{}}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload, output, log, err string
	}{
		{`{"message":"Hello World","repeat":3}`, "Hello World\nHello World\nHello World", "Hello World\nHello World\nHello World\n", ""},
		{`{"message":"once"}`, "once", "once\n", ""},
		{`{"message":"a\nb","repeat":2}`, "a\nb\na\nb", "a\nb\na\nb\n", ""},
		{``, "", "\n", ""},
		{`{"message":"x","repeat":0}`, "", "", `"repeat" must be at least 1`},
		{`{"message":5}`, "", "", `"message" must be a string, not number`},
		{`[1]`, "", "", "want a JSON object"},
		{`{"message":"xxxxxxxxxx","repeat":1000000}`, "", "", "exceed 1 MiB"},
	}
	for _, tt := range tests {
		task := newTask("echo", tt.payload)
		res, err := execEcho(context.Background(), task)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("echo(%s) error = %v, want %q", tt.payload, err, tt.err)
			}
			continue
		}
		if err != nil || res.Output != tt.output || res.ExitCode != 0 {
			t.Errorf("echo(%s) = %+v, %v, want output %q", tt.payload, res, err, tt.output)
		}
		if got := task.Log.(*lines).String(); got != tt.log {
			t.Errorf("echo(%s) logged %q, want %q", tt.payload, got, tt.log)
		}
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if res, err := execSleep(context.Background(), newTask("sleep", `{"seconds":0.01}`)); err != nil || res.Output != "slept 10ms" {
		t.Errorf("sleep 0.01 = %+v, %v", res, err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&stopError{"cancelled"})
	if _, err := execSleep(ctx, newTask("sleep", `{"seconds":100}`)); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancelled sleep error = %v, want the cause", err)
	}
	for _, p := range []string{`{}`, `{"seconds":-1}`, `{"seconds":"1"}`, `{"seconds":1e300}`} {
		if _, err := execSleep(context.Background(), newTask("sleep", p)); err == nil {
			t.Errorf("sleep(%s) succeeded, want a payload error", p)
		}
	}
}

// TestHTTPRefusesInternalAddresses: an http task cannot reach the worker's
// own machine or network (SSRF) unless the worker allows it: not by IP, not
// by a name that resolves there, not by a redirect.
func TestHTTPRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	secret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "secret")
	}))
	defer secret.Close()
	port := secret.URL[strings.LastIndex(secret.URL, ":")+1:]
	closed := newHTTPExec(nil)
	for _, url := range []string{
		secret.URL,                                                      // loopback by IP
		"http://localhost:" + port,                                      // by a name that resolves to loopback
		"http://[::1]:" + port,                                          // IPv6 loopback
		"http://169.254.169.254/latest/meta-data",                       // cloud metadata (link-local)
		"http://10.1.2.3/", "http://192.168.0.1/", "http://100.64.0.1/", // private and CGNAT
		"http://0.0.0.0:" + port,
	} {
		res, err := closed.run(context.Background(), newTask("http", `{"url":"`+url+`"}`))
		if err == nil || !strings.Contains(err.Error(), "internal address") {
			t.Errorf("http task to %s: %+v, %v; want it refused", url, res, err)
		}
	}
	open := newHTTPExec([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	if res, err := open.run(context.Background(), newTask("http", `{"url":"`+secret.URL+`"}`)); err != nil || res.Output != "secret" {
		t.Errorf("with loopback allowed: %+v, %v", res, err)
	}
	for _, ip := range []string{"8.8.8.8", "2606:4700::1111"} {
		if internalAddr(netip.MustParseAddr(ip)) {
			t.Errorf("%s counted as internal", ip)
		}
	}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("http task sent an Authorization header it was not given")
		}
		body := make([]byte, 100)
		n, _ := r.Body.Read(body)
		w.Header().Set("X-Echo", r.Method+" "+r.Header.Get("Content-Type")+" "+string(body[:n]))
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(max(code, 200))
		fmt.Fprint(w, "body of "+r.URL.Path)
	}))
	defer srv.Close()
	e := newHTTPExec([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}) // the test server is on loopback
	run := func(payload string) (*api.TaskResult, error) {
		return e.run(context.Background(), newTask("http", payload))
	}

	res, err := run(`{"url":"` + srv.URL + `/a","method":"post","body":{"k":1}}`)
	if err != nil || res.Output != "body of /a" {
		t.Fatalf("http = %+v, %v", res, err)
	}
	var data httpData
	if err := json.Unmarshal(res.Data, &data); err != nil || data.Status != 200 || data.Headers["X-Echo"] != `POST application/json {"k":1}` {
		t.Errorf("http data = %s (%v)", res.Data, err)
	}
	if _, err := run(`{"url":"` + srv.URL + `/b?code=404"}`); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("404 without expect_status: error = %v, want a failure", err)
	}
	if _, err := run(`{"url":"` + srv.URL + `/b?code=404","expect_status":404}`); err != nil {
		t.Errorf("404 expected: error = %v", err)
	}
	if _, err := run(`{"url":"` + srv.URL + `/c","expect_status":201}`); err == nil || !strings.Contains(err.Error(), "expected 201") {
		t.Errorf("200 when 201 expected: error = %v", err)
	}
	for _, p := range []string{`{}`, `{"url":"file:///etc/passwd"}`, `{"url":"` + srv.URL + `","method":"G T"}`, `{"url":"` + srv.URL + `","expect_status":7}`} {
		if _, err := run(p); err == nil || !strings.Contains(err.Error(), "invalid http payload") {
			t.Errorf("http(%s) error = %v, want a payload error", p, err)
		}
	}
}

// shellFor returns a shell executor as a worker started with the given
// secrets would have.
func shellFor(secrets ...string) *shellExec {
	return &shellExec{grace: 200 * time.Millisecond, secrets: func() []string { return secrets }}
}

func TestShell(t *testing.T) {
	t.Parallel()
	requireUnix(t)
	// Open to the unprivileged user a root worker runs tasks as, unlike
	// t.TempDir, whose parent is private.
	dir, err := os.MkdirTemp("", "drover-shell-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)

	tests := []struct {
		name, payload string
		exit          int
		output        string
	}{
		{"stdout", `{"command":"echo out"}`, 0, "out\n"},
		{"stderr", `{"command":"echo err >&2"}`, 0, "err\n"},
		{"exit code", `{"command":"echo partial; exit 3"}`, 3, "partial\n"},
		{"argv", `{"argv":["printf","%s-%s","a b","c"]}`, 0, "a b-c"},
		{"env", `{"command":"echo $GREETING $HARMLESS","env":{"GREETING":"hello"}}`, 0, "hello kept\n"},
		{"dir", `{"command":"pwd","dir":"` + dir + `"}`, 0, dir + "\n"},
		{"task identity", `{"command":"echo $DROVER_TASK_ID $DROVER_TASK_ATTEMPT $DROVER_IDEMPOTENCY_KEY"}`, 0, "task-1 2 task-1:2\n"},
		{"no secrets", `{"command":"env | grep -c -e join-token-value -e supersecretcredential -e DROVER_TOKEN || true"}`, 0, "0\n"},
		{"not found", `{"argv":["/no/such/program"]}`, exitNotFound, ""},
		{"bad dir", `{"command":"true","dir":"/no/such/dir"}`, exitCannotRun, ""},
		{"signal", `{"command":"kill -9 $$"}`, 128 + 9, ""},
	}
	sh := shellFor("join-token-value", "supersecretcredential")
	sh.baseEnv = func() []string {
		return append(os.Environ(), "DROVER_TOKEN=join-token-value",
			"SOME_URL=https://x:supersecretcredential@example.com", "HARMLESS=kept")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			task := newTask("shell", tt.payload)
			res, err := sh.run(context.Background(), task)
			if res == nil {
				t.Fatalf("shell(%s) = nil, %v", tt.payload, err)
			}
			if res.ExitCode != tt.exit || (tt.exit == 0) != (err == nil) || res.Output != tt.output {
				t.Errorf("shell(%s) = exit %d, output %q, err %v; want exit %d, output %q", tt.payload, res.ExitCode, res.Output, err, tt.exit, tt.output)
			}
			if logged := task.Log.(*lines).String(); strings.TrimSuffix(logged, "\n") != strings.TrimSuffix(tt.output, "\n") {
				t.Errorf("shell(%s) logged %q, want %q", tt.payload, task.Log.(*lines).String(), tt.output)
			}
		})
	}
}

func TestShellBadPayloads(t *testing.T) {
	t.Parallel()
	sh := shellFor()
	for _, p := range []string{`{}`, `{"command":"x","argv":["y"]}`, `{"argv":[""]}`, `{"command":"a\u0000b"}`,
		`{"command":"x","env":{"A=B":"c"}}`, `{"command":["x"]}`} {
		res, err := sh.run(context.Background(), newTask("shell", p))
		if err == nil || !strings.Contains(err.Error(), "invalid shell payload") || res != nil {
			t.Errorf("shell(%s) = %v, %v; want a payload error and nothing run", p, res, err)
		}
	}
}

func TestShellOutputKeepsTail(t *testing.T) {
	t.Parallel()
	requireUnix(t)
	// 1.5 MiB of output: the head is cut, the tail kept.
	res, err := shellFor().run(context.Background(), newTask("shell",
		`{"command":"head -c 1572864 /dev/zero | tr '\\0' x; echo; echo THE-END"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Output, "[") || !strings.HasSuffix(res.Output, "x\nTHE-END\n") || len(res.Output) > maxOutput+64 {
		t.Errorf("output: %d bytes, starting %q, ending %q", len(res.Output), res.Output[:min(40, len(res.Output))], res.Output[max(0, len(res.Output)-20):])
	}
}

// TestShellKillsWholeGroup checks that a timeout kills the command and its
// grandchildren, including ones that ignore SIGTERM, and that processes a
// command leaves behind die with it.
func TestShellKillsWholeGroup(t *testing.T) {
	t.Parallel()
	requireLinux(t)
	tests := []struct {
		name, command string
		timeout       bool
	}{
		{"timeout", `sleep 100 & echo $!; wait`, true},
		{"timeout, SIGTERM ignored", `trap "" TERM; sleep 100 & echo $!; wait`, true},
		{"left behind", `sleep 100 & echo $!`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.timeout {
				var cancel context.CancelFunc
				// Long enough for the shell to start and print its child's
				// pid on a loaded machine before the timeout kills the group.
				ctx, cancel = context.WithTimeoutCause(ctx, 2*time.Second, &timeoutError{2 * time.Second})
				defer cancel()
			}
			payload, _ := json.Marshal(shellPayload{Command: tt.command})
			task := newTask("shell", string(payload))
			log := &lines{got: make(chan string, 10)}
			task.Log = log
			done := make(chan error, 1)
			go func() { _, err := shellFor().run(ctx, task); done <- err }()

			grandchild, _ := strconv.Atoi(recv(t, log.got, "grandchild pid"))
			// A command that leaves its child behind may be reaped, and the
			// child killed, before its output reaches us: check it only
			// while the command waits.
			if grandchild == 0 || (tt.timeout && !alive(grandchild)) {
				t.Fatalf("grandchild %d is not running", grandchild)
			}
			err := recv(t, done, "shell to return")
			if tt.timeout && err == nil {
				t.Errorf("timed-out command succeeded")
			}
			// Killed and reaped by init: give the kernel a bounded moment.
			for deadline := time.Now().Add(2 * time.Second); alive(grandchild); {
				if time.Now().After(deadline) {
					t.Fatalf("grandchild %d survived its task", grandchild)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func TestShellRunsUnprivilegedUnderRoot(t *testing.T) {
	t.Parallel()
	requireUnix(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	res, err := shellFor().run(context.Background(), newTask("shell", `{"command":"id -u; pwd"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(fallbackNobody)
	if u, err := user.Lookup("nobody"); err == nil {
		want = u.Uid
	}
	if uid, _, _ := strings.Cut(res.Output, "\n"); uid != want {
		t.Errorf("shell task ran as uid %s, want nobody (%s)", uid, want)
	}

	asRoot := &shellExec{user: "root", grace: time.Second, secrets: func() []string { return nil }}
	if res, err := asRoot.run(context.Background(), newTask("shell", `{"command":"id -u"}`)); err != nil || res.Output != "0\n" {
		t.Errorf("ShellUser root: %+v, %v", res, err)
	}
}

func TestShellReportsUsage(t *testing.T) {
	t.Parallel()
	requireUnix(t)
	// Busy for 0.8 s of wall time, so at least one sample falls inside.
	task := newTask("shell", `{"command":"end=$(($(date +%s%N)/1000000+800)); while [ $(($(date +%s%N)/1000000)) -lt $end ]; do :; done"}`)
	if _, err := shellFor().run(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	u := task.usage
	if u == nil || u.TotalCPUTimeSeconds <= 0 || u.PeakCPUPercent <= 0 {
		t.Fatalf("usage = %+v, want CPU time and a CPU peak", u)
	}
	// The group's resident set, not the worker's: a shell and date(1) are a
	// few MB at most, the test binary tens.
	if canScanProcs && (u.PeakMemoryMB <= 0 || u.PeakMemoryMB > 16) {
		t.Errorf("peak memory = %.2f MB, want the task's own few MB", u.PeakMemoryMB)
	}
}

func TestShellRefused(t *testing.T) {
	t.Parallel()
	_, err := shellRefused(context.Background(), newTask("shell", `{"command":"true"}`))
	if err == nil || !strings.HasPrefix(err.Error(), "CAPABILITY_DENIED") {
		t.Errorf("shell without AllowShell: %v", err)
	}
	w, _ := New(Config{Server: "http://127.0.0.1:1"})
	if _, ok := w.handlers["shell"]; ok {
		t.Error("shell handler registered without AllowShell")
	}
	w, _ = New(Config{Server: "http://127.0.0.1:1", AllowShell: true})
	if _, ok := w.handlers["shell"]; !ok {
		t.Error("shell handler missing with AllowShell")
	}
}

func TestTaskLogSplitsLines(t *testing.T) {
	t.Parallel()
	var got []string
	l := newTaskLog(sinkFunc(func(_ string, _ int64, stream, msg string) { got = append(got, stream+":"+msg) }), "t", 1, "stderr")
	l.Write([]byte("one\ntw"))
	l.Write([]byte("o\r\nthree"))
	l.Write([]byte(strings.Repeat("x", maxLogLine+1) + "\n"))
	l.Close()
	want := []string{"stderr:one", "stderr:two", "stderr:three" + strings.Repeat("x", maxLogLine-5), "stderr:" + strings.Repeat("x", 6)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %.80q, want %.80q", got, want)
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	b := &tailBuffer{max: 10}
	for _, s := range []string{"0123", "4567", "89ab", "cdef", "ghijklmnopqrstuvwxyz", "!"} {
		b.Write([]byte(s))
	}
	if got, want := b.String(), truncatedNote(27)+"rstuvwxyz!"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
}

type sinkFunc func(taskID string, epoch int64, stream, msg string)

func (f sinkFunc) logLine(id string, epoch int64, stream, msg string) { f(id, epoch, stream, msg) }

func requireUnix(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs /bin/sh")
	}
}

func requireLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks processes through /proc")
	}
}

// alive reports whether pid is a live process (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
