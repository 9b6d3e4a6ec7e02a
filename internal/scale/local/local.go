// Package local is the pool provider that runs a pool's workers as
// processes on the server's own machine, started from the drover binary
// itself (`drover worker --pool-id N`). A process that dies unasked is
// reported, so the pool replaces it at once.
//
// The processes run in their own process group and outlive a server that
// is killed: they keep their leases and, when a server comes back on the
// same address, go on working, counted in their pool by their stored pool
// id. A server that stops cleanly stops them (Close).
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/scale"
)

// Name is the provider's name in a pool's settings.
const Name = "local"

// Options configure New.
type Options struct {
	// Binary is the drover executable to start; default os.Executable().
	Binary string
	// Server is the worker-protocol URL the workers join (asked at each
	// launch: the listener may be bound after the provider is made).
	Server func() string
	// Token, if set, gives a join token for uses workers of pool p (the
	// server runs with --auth); it reaches the worker in DROVER_TOKEN.
	Token func(ctx context.Context, p *domain.Pool, uses int) (string, error)
	// Args are extra flags for every worker (e.g. --ca FILE).
	Args []string
	// LogDir, if set, receives one log file per worker; else their output
	// is discarded.
	LogDir string
	// Exited is told when a worker process ends without being asked to.
	Exited func(name string, pid int)
	// KillGrace is how long a worker has between SIGTERM and SIGKILL when
	// it is removed; default 10s.
	KillGrace time.Duration
	Logger    *slog.Logger
}

// Provider runs workers as local processes.
type Provider struct {
	opts  Options
	mu    sync.Mutex
	procs map[string]*proc // by the name the worker was launched as
}

type proc struct {
	cmd      *exec.Cmd
	pool     int64
	done     chan struct{}
	stopping bool
}

var _ scale.Provider = (*Provider)(nil)

// New makes the provider.
func New(opts Options) *Provider {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = 10 * time.Second
	}
	return &Provider{opts: opts, procs: map[string]*proc{}}
}

// config is a local pool's provider configuration: nothing is required.
type config struct {
	// LogLevel of the workers; default warn.
	LogLevel string `json:"log_level,omitempty"`
}

// Validate accepts {} and {"log_level": ...}.
func (p *Provider) Validate(raw json.RawMessage) error {
	_, err := parse(raw)
	return err
}

func parse(raw json.RawMessage) (config, error) {
	var c config
	if len(raw) == 0 {
		return c, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("local provider config: %v", err)
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return c, fmt.Errorf("local provider config: log_level %q: use debug, info, warn or error", c.LogLevel)
	}
	return c, nil
}

// Launch starts one worker process per name.
func (p *Provider) Launch(ctx context.Context, pool *domain.Pool, names []string, want int) error {
	cfg, err := parse(pool.ProviderConfig)
	if err != nil {
		return err
	}
	bin := p.opts.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("local provider: finding the drover binary: %w", err)
		}
	}
	if p.opts.Server == nil {
		return errors.New("local provider: no server URL")
	}
	env := workerEnv()
	if p.opts.Token != nil {
		tok, err := p.opts.Token(ctx, pool, len(names))
		if err != nil {
			return fmt.Errorf("local provider: join token: %w", err)
		}
		env = append(env, "DROVER_TOKEN="+tok)
	}
	var errs []error
	for _, name := range names {
		if err := p.start(bin, env, pool, name, cfg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// workerEnv is the server's environment without its DROVER_ settings,
// which the worker command would otherwise read as its own flags.
func workerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DROVER_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *Provider) start(bin string, env []string, pool *domain.Pool, name string, cfg config) error {
	t := pool.Worker
	args := []string{"worker", "--server", p.opts.Server(), "--name", name,
		"--pool-id", strconv.FormatInt(pool.ID, 10),
		"--queues", strings.Join(t.Queues, ","),
		"--concurrency", strconv.Itoa(max(t.Concurrency, 1)),
		"--log-level", cmpOr(cfg.LogLevel, "warn")}
	if pool.DrainTimeout > 0 {
		args = append(args, "--drain-timeout", pool.DrainTimeout.String())
	}
	if len(t.Labels) > 0 {
		keys := make([]string, 0, len(t.Labels))
		for k := range t.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			args = append(args, "--labels", k+"="+t.Labels[k])
		}
	}
	if t.AllowShell {
		args = append(args, "--allow-shell")
	}
	args = append(args, p.opts.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	// Its own process group: a Ctrl-C at the server's terminal reaches the
	// server, which stops its workers in order, not the workers directly.
	ownGroup(cmd)
	var out io.WriteCloser
	if p.opts.LogDir != "" {
		if err := os.MkdirAll(p.opts.LogDir, 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(p.opts.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr, out = f, f, f
	}
	if err := cmd.Start(); err != nil {
		if out != nil {
			out.Close()
		}
		return fmt.Errorf("local provider: starting %s: %w", name, err)
	}
	pr := &proc{cmd: cmd, pool: pool.ID, done: make(chan struct{})}
	p.mu.Lock()
	p.procs[name] = pr
	p.mu.Unlock()
	p.opts.Logger.Info("local worker started", "pool_id", pool.ID, "name", name, "pid", cmd.Process.Pid)
	go func() {
		err := cmd.Wait()
		if out != nil {
			out.Close()
		}
		close(pr.done)
		p.mu.Lock()
		stopping := pr.stopping
		delete(p.procs, name)
		p.mu.Unlock()
		if !stopping {
			if err != nil {
				p.opts.Logger.Warn("local worker died", "pool_id", pool.ID, "name", name, "err", err)
			} else {
				p.opts.Logger.Info("local worker left", "pool_id", pool.ID, "name", name)
			}
			if p.opts.Exited != nil {
				p.opts.Exited(name, cmd.Process.Pid)
			}
		}
	}()
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Remove stops worker w's process if this provider started it and it still
// runs (normally it has left by itself after its drain): SIGTERM, then
// SIGKILL to its group after KillGrace. It does not wait.
func (p *Provider) Remove(_ context.Context, _ *domain.Pool, w *domain.Worker, _ int) error {
	p.stop(w)
	return nil
}

// Forget stops a worker of a deleted pool, as Remove does.
func (p *Provider) Forget(_ context.Context, w *domain.Worker) error {
	p.stop(w)
	return nil
}

func (p *Provider) stop(w *domain.Worker) {
	p.mu.Lock()
	pr := p.procs[w.Name]
	if pr == nil {
		pr = p.procs[w.ID]
	}
	if pr != nil {
		pr.stopping = true
	}
	p.mu.Unlock()
	if pr == nil {
		return
	}
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		t := time.NewTimer(p.opts.KillGrace)
		defer t.Stop()
		select {
		case <-pr.done:
		case <-t.C:
			_ = killGroup(pr.cmd.Process)
		}
	}()
}

// Running lists the names of the workers this provider runs, sorted.
func (p *Provider) Running() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.procs))
	for n := range p.procs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close stops every worker this provider started (they drain: running
// tasks finish or are handed back) and waits for them until ctx ends, then
// kills what is left.
func (p *Provider) Close(ctx context.Context) {
	p.mu.Lock()
	procs := make([]*proc, 0, len(p.procs))
	for _, pr := range p.procs {
		pr.stopping = true
		procs = append(procs, pr)
	}
	p.mu.Unlock()
	for _, pr := range procs {
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, pr := range procs {
		select {
		case <-pr.done:
		case <-ctx.Done():
			_ = killGroup(pr.cmd.Process)
			<-pr.done
		}
	}
}
