package cli

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/internal/chaos"
)

func newChaosCommand() *cobra.Command {
	var cfg chaos.Config
	var jsonFile string
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run a mixed load against real processes while injecting faults, and check nothing is lost",
		Long: `Inject faults into a real cluster and check Drover's promises.

Starts a server (on a temporary SQLite store, or --store) and --workers worker
processes, submits a mixed load at --rate submits/s (short, long, failing and
retried tasks; shell tasks record each execution in a ledger file; a workflow
DAG and a cron workflow), every submit with an Idempotency-Key and retried
with it when its outcome is unknown. Every --fault-every it injects the next
fault, in an order drawn from --seed: worker kill -9, a worker stopped
(SIGSTOP) and a worker's connection black-holed for lease TTL + 3 s, server
kill -9, the server down for 0.5 and 1.5 lease TTLs, and with --pg-restart a
PostgreSQL restart. Every second it checks that no task outlives its lease
and none waits while a worker is idle. At the end it drains and reports
acknowledged, completed, lost, completed twice and stuck tasks, re-lease
latency after each fault, and the server's memory and goroutines; it exits
non-zero on any loss, duplicate completion or stuck task, any lost worker's
task requeued before its lease expired or over a second after, and any
killed worker's task process alive a second after the kill.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			rep, err := chaos.Run(cmd.Context(), cfg)
			if rep != nil && jsonFile != "" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				if werr := os.WriteFile(jsonFile, append(b, '\n'), 0o644); werr != nil {
					return errors.Join(err, werr)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Store, "store", "", "store of the server (default: a temporary SQLite file), e.g. postgres://…")
	f.IntVar(&cfg.Workers, "workers", 4, "worker processes")
	f.IntVar(&cfg.Concurrency, "concurrency", 16, "slots per worker")
	f.DurationVar(&cfg.Duration, "duration", 0, "how long the load and the faults last (default 2m)")
	f.Float64Var(&cfg.Rate, "rate", 20, "submits per second")
	f.IntVar(&cfg.Clients, "clients", 16, "concurrent submitters")
	f.DurationVar(&cfg.FaultEvery, "fault-every", 0, "one fault every (default 10s)")
	f.StringSliceVar(&cfg.Faults, "faults", nil, "the faults to inject, in turn (default all; none for a run without faults)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the fault order, the victims and the task mix")
	f.DurationVar(&cfg.Heartbeat, "heartbeat-interval", 0, "the server's heartbeat interval (default 1s)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", 0, "the server's lease TTL (default 4 heartbeats)")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "memory growth is measured after this (default 5m, at most a quarter of --duration)")
	f.DurationVar(&cfg.Drain, "drain", 0, "how long the end may take to settle (default 3m)")
	f.StringVar(&cfg.PGRestart, "pg-restart", "", "shell command that restarts the PostgreSQL of --store (adds the pg-restart fault)")
	f.StringVar(&cfg.Dir, "dir", "", "keep logs, the ledger and the SQLite file here (default: a temporary directory, removed after a clean run)")
	f.StringSliceVar(&cfg.ServerArgs, "server-args", nil, "extra flags for the server")
	f.StringVar(&jsonFile, "json", "", "also write the report, with the resource samples, as JSON to this file")
	return cmd
}
