package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Config configures a Worker. The zero value of every field but Server is a
// usable default.
type Config struct {
	// Server is the agent URL of the server, e.g. http://127.0.0.1:8080.
	// Required.
	Server string
	// Token is the join token or agent key sent as Authorization on
	// register. Empty when the server runs without auth.
	Token string
	// Name is the device id the worker asks for. Default: the hostname.
	Name string
	// Role is the worker's role. Default "compute".
	Role string
	// Queues the worker leases from. Default ["FifoQ"], or, with PinHost
	// set, only PinHost's queue.
	Queues []string
	// PinHost binds the worker to one target host (document 003's device
	// queues): it also serves pinned_{PinHost}, the queue of the tasks
	// submitted with that host.
	PinHost string
	// Labels are matched against tasks' requirements.
	Labels map[string]string
	// Concurrency is how many tasks run at once. Default runtime.NumCPU().
	Concurrency int
	// AllowShell enables the built-in "shell" type: code execution on this
	// machine, so off by default.
	AllowShell bool
	// HTTPAllow lists the networks "http" tasks may reach besides the
	// public internet. Loopback, private, link-local (cloud metadata
	// among them), carrier-grade NAT and other special addresses are
	// refused unless listed here: a task's URL must not turn the worker
	// into a way into its own network. The check is on the address dialed,
	// after DNS and at every redirect, so no name trick gets past it.
	HTTPAllow []netip.Prefix
	// ShellUser is the user shell tasks run as (Unix). Default: "nobody"
	// when the worker runs as root, so a task cannot own the machine;
	// otherwise the worker's own user. Set "root" to run them as root.
	// Tasks run as another user start in os.TempDir() unless they name a
	// dir, since the worker's own directory may be closed to them.
	ShellUser string
	// HTTPClient talks to the server. Default: a client with keep-alive
	// connections sized for the worker's few concurrent calls. Set one to
	// use TLS with a private CA. It must not have a Timeout shorter than
	// the lease long-poll (about 25 s); per-call deadlines are set anyway.
	HTTPClient *http.Client
	// Logger receives the worker's own logs. Default: slog.Default().
	Logger *slog.Logger
	// StateFile, if set, keeps the worker id and credential across
	// restarts, so a restarted worker comes back under the same id.
	StateFile string
	// DrainTimeout is how long running tasks may finish after Run's ctx is
	// done, before they are killed and handed back. Default 30s.
	DrainTimeout time.Duration
	// KillGrace is how long a task's processes have between SIGTERM and
	// SIGKILL. Default 5s.
	KillGrace time.Duration
	// PoolID is the pool that started this worker (0: none); the server
	// records it at registration and counts the worker in that pool.
	PoolID int64
	// StorageDir is the directory whose file system is reported as the
	// worker's storage. Default: the working directory.
	StorageDir string
	// Version is the build the worker reports at register (drover's own
	// binary passes its version line). Default: the drover module's
	// version in this binary's build information.
	Version string
}

// The defaults of Config.
const (
	DefaultRole         = "compute"
	DefaultQueue        = "FifoQ"
	PinnedQueuePrefix   = "pinned_" // + a host: the queue of the tasks bound to it
	DefaultDrainTimeout = 30 * time.Second
	DefaultKillGrace    = 5 * time.Second
)

// withDefaults returns c with defaults filled in, after validating it.
func (c Config) withDefaults() (Config, error) {
	if c.Server == "" {
		return c, errors.New("worker: Config.Server is required")
	}
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("worker: Config.Server %q is not an http(s) URL", c.Server)
	}
	c.Server = strings.TrimRight(c.Server, "/")
	if c.Concurrency < 0 {
		return c, fmt.Errorf("worker: Config.Concurrency %d is negative", c.Concurrency)
	}
	if c.DrainTimeout < 0 || c.KillGrace < 0 {
		return c, errors.New("worker: Config.DrainTimeout and KillGrace must not be negative")
	}
	for _, q := range c.Queues {
		if strings.TrimSpace(q) == "" {
			return c, errors.New("worker: Config.Queues holds an empty name")
		}
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
		if c.Name == "" {
			c.Name = "worker"
		}
	}
	if c.Role == "" {
		c.Role = DefaultRole
	}
	if c.PinHost != "" {
		if strings.ContainsAny(c.PinHost, " \t/") {
			return c, fmt.Errorf("worker: Config.PinHost %q is not a host name or address", c.PinHost)
		}
		if q := PinnedQueuePrefix + c.PinHost; !slices.Contains(c.Queues, q) {
			c.Queues = append(slices.Clone(c.Queues), q)
		}
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{DefaultQueue}
	}
	if c.Concurrency == 0 {
		c.Concurrency = runtime.NumCPU()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.KillGrace == 0 {
		c.KillGrace = DefaultKillGrace
	}
	if c.StorageDir == "" {
		c.StorageDir, _ = os.Getwd()
	}
	return c, nil
}
