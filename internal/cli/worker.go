package cli

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/version"
	"github.com/drover-run/drover/worker"
)

func newWorkerCommand() *cobra.Command {
	var cfg worker.Config
	var labels, httpAllow []string
	var logLevel, caFile string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run an agent: register with a server and run its tasks",
		Long: `Run an agent on this machine.

It registers with the server's worker protocol (--server), reports this
machine's resources, and runs up to --concurrency tasks at once from --queues.
SIGTERM or Ctrl-C drains: no new tasks, running ones finish (or are handed
back after --drain-timeout), then it leaves. Every flag can also be set as
DROVER_<FLAG> in the environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := settle(cmd, logLevel)
			if err != nil {
				return err
			}
			for _, cidr := range httpAllow {
				p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
				if err != nil {
					return usageErrorf("--http-allow %q: give networks as CIDR, e.g. 127.0.0.0/8,10.0.0.0/8", cidr)
				}
				cfg.HTTPAllow = append(cfg.HTTPAllow, p)
			}
			if cfg.Labels, err = parseLabels(labels); err != nil {
				return usageErrorf("%v", err)
			}
			cfg.Logger, cfg.Version = log, version.String()
			if cfg.PinHost != "" && !cmd.Flags().Changed("queues") {
				cfg.Queues = nil // a pinned worker serves its host alone unless told otherwise
			}
			if cfg.HTTPClient, err = workerHTTPClient(cfg.Server, caFile, insecure); err != nil {
				return usageErrorf("%v", err)
			}
			w, err := worker.New(cfg)
			if err != nil {
				return usageErrorf("%v", err)
			}
			return w.Run(cmd.Context())
		},
	}
	addConfigFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", fmt.Sprintf("http://127.0.0.1:%d", api.DefaultAgentPort), "the server's worker-protocol URL")
	f.StringVar(&cfg.Token, "token", "", "join token or agent key, when the server runs with --auth")
	f.StringVar(&cfg.Name, "name", "", "device id to ask for (default: the hostname)")
	f.StringVar(&cfg.Role, "role", "compute", "the device's role, e.g. compute, mobile, storage")
	f.StringSliceVar(&cfg.Queues, "queues", []string{"FifoQ"}, "queues to take tasks from (with --pin-host and no --queues: only the host's queue)")
	f.StringVar(&cfg.PinHost, "pin-host", "", "serve the tasks bound to this target host (queue pinned_HOST)")
	f.StringSliceVar(&labels, "labels", nil, "labels k=v,… that tasks may require")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "tasks run at once (default: the number of CPUs)")
	f.BoolVar(&cfg.AllowShell, "allow-shell", false, "run shell tasks: arbitrary commands on this machine")
	f.StringVar(&cfg.ShellUser, "shell-user", "", "the user shell tasks run as (default: nobody when the worker runs as root, else the worker's own user)")
	f.StringSliceVar(&httpAllow, "http-allow", nil, "internal networks (CIDR,…) that http tasks may reach; loopback, private and metadata addresses are refused otherwise")
	f.Int64Var(&cfg.PoolID, "pool-id", 0, "the pool this worker belongs to (set by the pool's provider)")
	f.StringVar(&cfg.StateFile, "state-file", "", "file keeping the worker's id and credential across restarts")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", worker.DefaultDrainTimeout, "how long running tasks may finish on shutdown")
	f.StringVar(&caFile, "ca", "", "PEM CA certificate(s) to verify an https --server with")
	f.BoolVar(&insecure, "insecure", false, "allow plain HTTP to a server that is not on loopback")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// parseLabels reads k=v pairs.
func parseLabels(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: use key=value", p)
		}
		m[k] = v
	}
	return m, nil
}
