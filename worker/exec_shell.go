package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
)

// shellPayload is the payload of "shell": a command line for /bin/sh -c, or
// an argv run directly.
type shellPayload struct {
	Command string            `json:"command"`
	Argv    []string          `json:"argv"`
	Env     map[string]string `json:"env"`
	Dir     string            `json:"dir"`
}

func (p *shellPayload) validate() error {
	switch {
	case p.Command == "" && len(p.Argv) == 0:
		return errors.New(`invalid shell payload: "command" or "argv" is required`)
	case p.Command != "" && len(p.Argv) > 0:
		return errors.New(`invalid shell payload: give "command" or "argv", not both`)
	case len(p.Argv) > 0 && p.Argv[0] == "":
		return errors.New(`invalid shell payload: "argv[0]" is empty`)
	}
	nul := func(s string) bool { return strings.IndexByte(s, 0) >= 0 }
	if nul(p.Command) || nul(p.Dir) || slices.ContainsFunc(p.Argv, nul) {
		return errors.New("invalid shell payload: a NUL byte in command, argv or dir")
	}
	for k, v := range p.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || nul(v) {
			return fmt.Errorf("invalid shell payload: bad environment variable %q", k)
		}
	}
	return nil
}

// shellRefused is "shell" on a worker started without AllowShell. The
// server should not send one, since the type is not advertised.
func shellRefused(context.Context, *Task) (*api.TaskResult, error) {
	return nil, errors.New("CAPABILITY_DENIED: shell tasks are not allowed on this worker (start it with --allow-shell)")
}

// shellExec runs "shell" tasks.
type shellExec struct {
	user    string          // Config.ShellUser
	grace   time.Duration   // SIGTERM to SIGKILL
	secrets func() []string // values no task environment may hold
	baseEnv func() []string // the environment tasks start from; nil: os.Environ

	identOnce sync.Once
	ident     *identity // nil: run as the worker's user
	identErr  error

	usage groupSampler
}

// Exit codes of commands that could not start, as shells report them.
const (
	exitNotFound  = 127
	exitCannotRun = 126
)

func (e *shellExec) run(ctx context.Context, t *Task) (*api.TaskResult, error) {
	var p shellPayload
	if err := decodePayload(t, &p); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	e.identOnce.Do(func() { e.ident, e.identErr = resolveIdentity(e.user) })
	if e.identErr != nil {
		return nil, e.identErr
	}

	if p.Dir != "" {
		// Checked here because a failed chdir in the child reads like a
		// missing program ("fork/exec /bin/sh: no such file or directory").
		if fi, err := os.Stat(p.Dir); err != nil || !fi.IsDir() {
			return &api.TaskResult{ExitCode: exitCannotRun}, fmt.Errorf("dir %q is not a directory on this worker", p.Dir)
		}
	}

	name, args := "/bin/sh", []string{"-c", p.Command}
	if len(p.Argv) > 0 {
		name, args = p.Argv[0], p.Argv[1:]
		// Found here, not by the supervising shell, so a missing program
		// is a start failure with Go's precise error, as without it.
		if _, err := exec.LookPath(name); err != nil {
			return &api.TaskResult{ExitCode: exitNotFound}, fmt.Errorf("cannot start command: %w", err)
		}
	}
	name, args = supervised(name, args, e.grace)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = p.Dir
	if cmd.Dir == "" && e.ident != nil {
		// The worker's directory may be closed to the task's user.
		cmd.Dir = os.TempDir()
	}
	cmd.Env = e.environ(t, p.Env)
	cmd.SysProcAttr = sysProcAttr(e.ident)

	// The group's SIGKILL, armed by Cancel and disarmed once the command
	// is gone, so it can never hit a recycled process group id.
	var (
		killMu    sync.Mutex
		killTimer *time.Timer
	)
	cmd.Cancel = func() error {
		pid := cmd.Process.Pid
		signalGroup(pid, false)
		killMu.Lock()
		killTimer = time.AfterFunc(e.grace, func() { signalGroup(pid, true) })
		killMu.Unlock()
		return nil
	}
	// A backstop: exec kills the leader itself if it outlives the grace.
	cmd.WaitDelay = e.grace + time.Second

	// The command writes straight into pipes we read: with *os.File
	// outputs, Wait returns when the command exits, not when every
	// descendant has closed its copy of stdout.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = startCmd(cmd)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		code := exitCannotRun
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = exitNotFound
		}
		return &api.TaskResult{ExitCode: code}, fmt.Errorf("cannot start command: %w", err)
	}
	began := time.Now()
	pid := cmd.Process.Pid
	track := e.usage.track(pid)

	var (
		outMu sync.Mutex
		out   = &tailBuffer{max: maxOutput}
		pumps sync.WaitGroup
	)
	pumps.Go(func() { pump(outR, commandLog(t, "stdout"), out, &outMu) })
	pumps.Go(func() { pump(errR, commandLog(t, "stderr"), out, &outMu) })

	waitErr := cmd.Wait()
	killMu.Lock()
	if killTimer != nil {
		killTimer.Stop()
	}
	killMu.Unlock()
	// Whatever the command left behind in its group dies with it.
	signalGroup(pid, true)
	t.usage = e.usage.finish(pid, track, cmd.ProcessState, time.Since(began))

	// A descendant that left the group may still hold the pipes open;
	// do not wait on it for long.
	if !waitFor(&pumps, e.grace) {
		outR.Close()
		errR.Close()
		pumps.Wait()
	}
	outR.Close()
	errR.Close()

	res := &api.TaskResult{Output: out.String()}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
		return res, nil
	case errors.As(waitErr, &ee):
		res.ExitCode = exitCode(ee.ProcessState)
		return res, fmt.Errorf("command exited with code %d", res.ExitCode)
	default:
		res.ExitCode = exitCannotRun
		return res, fmt.Errorf("command failed: %w", waitErr)
	}
}

// pump copies one output stream into the task log, line by line, and into
// the shared output tail, both without progress directives.
func pump(r io.Reader, log *taskLog, out *tailBuffer, mu *sync.Mutex) {
	buf := make([]byte, 32<<10)
	tail := &directiveFilter{w: out, atStart: true}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			mu.Lock()
			tail.Write(buf[:n])
			mu.Unlock()
			log.Write(buf[:n])
		}
		if err != nil {
			mu.Lock()
			tail.Close()
			mu.Unlock()
			log.Close()
			return
		}
	}
}

// environ is the task's environment: the worker's, without its own
// settings (DROVER_*, which may hold a token) or any variable holding a
// secret; then the task's identity; then the payload's variables.
func (e *shellExec) environ(t *Task, extra map[string]string) []string {
	secrets := slices.DeleteFunc(e.secrets(), func(s string) bool { return s == "" })
	base := os.Environ
	if e.baseEnv != nil {
		base = e.baseEnv
	}
	env := make([]string, 0, 64)
	for _, kv := range base() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToUpper(k), "DROVER_") ||
			slices.ContainsFunc(secrets, func(s string) bool { return holds(v, s) }) {
			continue
		}
		env = append(env, kv)
	}
	if e.ident != nil {
		env = append(env, "HOME="+e.ident.home, "USER="+e.ident.name, "LOGNAME="+e.ident.name)
	}
	env = append(env,
		"DROVER_TASK_ID="+t.ID,
		"DROVER_TASK_TYPE="+t.Type,
		"DROVER_TASK_ATTEMPT="+strconv.Itoa(t.Attempt),
		"DROVER_IDEMPOTENCY_KEY="+t.IdempotencyKey(),
	)
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k]) // exec keeps the last of duplicates
	}
	return env
}

// fallbackNobody is the uid and gid of "nobody" where the user database
// does not list it.
const fallbackNobody = 65534

// identity is a user tasks run as.
type identity struct {
	uid, gid   uint32
	name, home string
}

// holds reports whether v holds the secret s. Short values are compared
// whole, so a short token does not strip half the environment.
func holds(v, s string) bool {
	if len(s) < 8 {
		return v == s
	}
	return strings.Contains(v, s)
}
