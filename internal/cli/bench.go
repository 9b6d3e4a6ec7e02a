package cli

import (
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/internal/bench"
)

func newBenchCommand() *cobra.Command {
	var cfg bench.Config
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput, latency and memory with real server and worker processes",
		Long: `Measure Drover end to end.

Starts a server (on a temporary SQLite store, or --store) and --workers worker
processes, all talking HTTP, then measures submit-to-start latency on the idle
cluster (--samples sequential tasks) and throughput (--tasks no-op tasks
submitted in batches of --batch, first submit to last completion). With
--api-url it measures an existing server instead. With --hold N it fills a
queue with N tasks nobody takes and reports the server's memory. With
--sim-workers N it simulates N workers in this process over the worker
protocol (heartbeats at the server's interval, long-poll leases, instant
results) and runs --rate tasks/s on them for --duration, reporting the
server's CPU and memory, heartbeat round trips, submit-to-start under that
load, and lease calls per task (a wake-up stampede shows as many empty ones).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.APIURL, "target-api", "", "API URL of an existing server to measure (default: start one)")
	f.StringVar(&cfg.AgentURL, "target-agent", "", "worker-protocol URL of that server")
	f.StringVar(&cfg.Store, "store", "", "store of the server bench starts (default: a temporary SQLite file)")
	f.IntVar(&cfg.Workers, "workers", 2, "worker processes")
	f.IntVar(&cfg.Concurrency, "concurrency", 64, "slots per worker")
	f.IntVar(&cfg.Tasks, "tasks", 20000, "tasks in the throughput run")
	f.IntVar(&cfg.Batch, "batch", 500, "tasks per submit call")
	f.IntVar(&cfg.Submitters, "submitters", 2, "concurrent submit loops")
	f.IntVar(&cfg.Samples, "samples", 200, "tasks in the latency run")
	f.IntVar(&cfg.Hold, "hold", 0, "fill a queue with this many tasks and report the server's memory instead")
	f.StringVar(&cfg.Queue, "queue", "", "queue of the tasks (default: a fresh one for the workers bench starts, FifoQ otherwise)")
	f.StringSliceVar(&cfg.ServerArgs, "server-args", nil, "extra flags for the server bench starts, e.g. --pprof-addr=127.0.0.1:6060")
	f.BoolVar(&cfg.Prefill, "prefill", false, "measure burning down a full queue: fill it while the workers are paused, then time them")
	f.IntVar(&cfg.SimWorkers, "sim-workers", 0, "instead, simulate this many workers in this process over the worker protocol and run --rate tasks/s on them")
	f.IntVar(&cfg.SimSlots, "sim-slots", 1, "slots per simulated worker")
	f.IntVar(&cfg.Rate, "rate", 1000, "tasks per second submitted with --sim-workers")
	f.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to submit with --sim-workers")
	f.BoolVar(&asJSON, "json", false, "also print the report as JSON")
	return cmd
}
