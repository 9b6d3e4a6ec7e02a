// Package command is the pool provider that runs the operator's own
// commands: a scale-up command when a pool needs workers (a cloud CLI that
// starts machines, `kubectl scale --replicas=$DROVER_COUNT`) and a
// scale-down command for each worker that has drained and should go.
//
// Each command is run by /bin/sh -c with the pool and the change in its
// environment:
//
//	DROVER_POOL_ID, DROVER_POOL_NAME   the pool
//	DROVER_COUNT                        the pool's desired size
//	DROVER_ADD, DROVER_WORKER_NAMES     scale-up: how many to start, the names they should register as
//	DROVER_SERVER, DROVER_TOKEN         scale-up: the worker-protocol URL and a join token for them (with --auth)
//	DROVER_QUEUES, DROVER_CONCURRENCY, DROVER_LABELS, DROVER_ALLOW_SHELL   the worker template
//	DROVER_WORKER_ID, DROVER_WORKER_NAME, DROVER_WORKER_HOSTNAME, DROVER_WORKER_PID   scale-down: the worker to stop
//
// A command that exits non-zero fails the step; the reconciler retries it
// on its next pass. Workers started by the command register with
// `--pool-id $DROVER_POOL_ID` (or the join token) to count in the pool.
package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/scale"
)

// Name is the provider's name in a pool's settings.
const Name = "command"

// Options configure New.
type Options struct {
	// Server is the worker-protocol URL passed as DROVER_SERVER.
	Server func() string
	// Token, if set, gives a join token for uses workers of pool p.
	Token  func(ctx context.Context, p *domain.Pool, uses int) (string, error)
	Logger *slog.Logger
}

// Provider runs the operator's commands.
type Provider struct{ opts Options }

var _ scale.Provider = (*Provider)(nil)

// New makes the provider.
func New(opts Options) *Provider {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{opts: opts}
}

// Config is a command pool's provider configuration.
type Config struct {
	ScaleUp   string `json:"scale_up"`   // required
	ScaleDown string `json:"scale_down"` // required
	// TimeoutSeconds bounds each run; default 300.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

func parse(raw json.RawMessage) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("command provider config: %v", err)
	}
	switch {
	case strings.TrimSpace(c.ScaleUp) == "":
		return c, fmt.Errorf("command provider config: scale_up is required")
	case strings.TrimSpace(c.ScaleDown) == "":
		return c, fmt.Errorf("command provider config: scale_down is required")
	case c.TimeoutSeconds < 0 || c.TimeoutSeconds > 3600:
		return c, fmt.Errorf("command provider config: timeout_seconds must be between 0 and 3600")
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = 300
	}
	return c, nil
}

// Validate checks that both commands are given.
func (p *Provider) Validate(raw json.RawMessage) error {
	_, err := parse(raw)
	return err
}

func poolEnv(pool *domain.Pool, want int) []string {
	t := pool.Worker
	labels := make([]string, 0, len(t.Labels))
	for k, v := range t.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return []string{
		"DROVER_POOL_ID=" + strconv.FormatInt(pool.ID, 10),
		"DROVER_POOL_NAME=" + pool.Name,
		"DROVER_COUNT=" + strconv.Itoa(want),
		"DROVER_QUEUES=" + strings.Join(t.Queues, ","),
		"DROVER_CONCURRENCY=" + strconv.Itoa(t.Concurrency),
		"DROVER_LABELS=" + strings.Join(labels, ","),
		"DROVER_ALLOW_SHELL=" + strconv.FormatBool(t.AllowShell),
	}
}

// Launch runs the scale-up command once for all of names.
func (p *Provider) Launch(ctx context.Context, pool *domain.Pool, names []string, want int) error {
	c, err := parse(pool.ProviderConfig)
	if err != nil {
		return err
	}
	env := append(poolEnv(pool, want), "DROVER_ADD="+strconv.Itoa(len(names)), "DROVER_WORKER_NAMES="+strings.Join(names, " "))
	if p.opts.Server != nil {
		env = append(env, "DROVER_SERVER="+p.opts.Server())
	}
	if p.opts.Token != nil {
		tok, err := p.opts.Token(ctx, pool, len(names))
		if err != nil {
			return fmt.Errorf("command provider: join token: %w", err)
		}
		env = append(env, "DROVER_TOKEN="+tok)
	}
	return p.run(ctx, "scale_up", c.ScaleUp, c, env)
}

// Remove runs the scale-down command for worker w.
func (p *Provider) Remove(ctx context.Context, pool *domain.Pool, w *domain.Worker, want int) error {
	c, err := parse(pool.ProviderConfig)
	if err != nil {
		return err
	}
	env := append(poolEnv(pool, want),
		"DROVER_WORKER_ID="+w.ID, "DROVER_WORKER_NAME="+w.Name, "DROVER_WORKER_HOSTNAME="+w.Hostname,
		"DROVER_WORKER_PID="+strconv.Itoa(w.PID))
	return p.run(ctx, "scale_down", c.ScaleDown, c, env)
}

func (p *Provider) run(ctx context.Context, what, script string, c Config, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.TimeoutSeconds)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	ownGroup(cmd)
	// Kill the whole group on timeout: the script's children too.
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	p.opts.Logger.Info("pool command ran", "command", what, "took", time.Since(start).String(), "err", err)
	if err != nil {
		tail := out.String()
		if len(tail) > 500 {
			tail = tail[len(tail)-500:]
		}
		return fmt.Errorf("%s command failed: %v: %s", what, err, strings.TrimSpace(tail))
	}
	return nil
}
