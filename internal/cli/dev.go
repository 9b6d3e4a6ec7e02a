package cli

import (
	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/app"
	"github.com/drover-run/drover/internal/version"
)

func newDevCommand() *cobra.Command {
	var cfg app.DevConfig
	var logLevel string
	var labels []string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole cluster on this machine: a server on SQLite and two workers",
		Long: `Run a whole cluster on this machine, for trying Drover.

A server on an embedded SQLite store in --data, and --workers local workers
(shell tasks allowed: everything listens on 127.0.0.1 only). Ctrl-C stops it
all cleanly; the data stays for the next run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := settle(cmd, logLevel)
			if err != nil {
				return err
			}
			if cfg.Labels, err = parseLabels(labels); err != nil {
				return err
			}
			cfg.Logger, cfg.Version, cfg.Out = log, version.String(), cmd.OutOrStdout()
			return app.RunDev(cmd.Context(), cfg)
		},
	}
	addConfigFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", app.DefaultDataDir, "directory of the SQLite store and the workers' state")
	f.IntVar(&cfg.Port, "port", api.DefaultPort, "port of the REST API")
	f.IntVar(&cfg.AgentPort, "agent-port", api.DefaultAgentPort, "port of the worker protocol")
	f.IntVar(&cfg.KeeperPort, "keeper-port", api.DefaultKeeperPort, "port of the Keeper interface (document 002); 0 turns it off")
	f.IntVar(&cfg.NetPulsePort, "netpulse-port", api.DefaultNetPulsePort, "port of the NetPulse job API (document 003); 0 turns it off")
	f.IntVar(&cfg.Workers, "workers", 2, "how many local workers")
	f.IntVar(&cfg.Concurrency, "concurrency", 4, "tasks each worker runs at once")
	f.StringSliceVar(&labels, "labels", nil, "labels of the local workers, key=value, for placement by label")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
