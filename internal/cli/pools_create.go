package cli

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newPoolsCreateCommand(m *meta) *cobra.Command {
	var (
		req                  api.CreatePoolRequest
		labels               []string
		scaleUp, scaleDown   string
		drain, age, cooldown int
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a pool of workers",
		Long: `Create a pool: a group of workers with a desired size (--points) that the
server keeps, between --min and --max. The local provider starts the workers
as processes on the server's machine; the command provider runs your own
--scale-up and --scale-down commands (docs/pools.md). --autoscale sizes the
pool from the backlog of its queues.`,
		Example: `  drover pools create --name gpu --points 2 --max 8 --queues gpu --concurrency 4
  drover pools create --name cloud --provider command --max 20 \
      --scale-up 'kubectl scale deploy/drover-worker --replicas=$DROVER_COUNT' \
      --scale-down 'kubectl delete pod $DROVER_WORKER_HOSTNAME'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Name == "" {
				return usageErrorf("--name is required")
			}
			var err error
			if req.Worker.Labels, err = parseLabels(labels); err != nil {
				return usageErrorf("%v", err)
			}
			if req.Provider == "command" {
				req.ProviderConfig, _ = json.Marshal(map[string]string{"scale_up": scaleUp, "scale_down": scaleDown})
			} else if scaleUp != "" || scaleDown != "" {
				return usageErrorf("--scale-up and --scale-down are for --provider command")
			}
			req.DrainTimeoutSeconds = drain
			req.Autoscale.MaxPendingAgeSeconds, req.Autoscale.CooldownSeconds = age, cooldown
			c, err := m.client()
			if err != nil {
				return err
			}
			p, err := c.Pools.Create(cmd.Context(), req)
			if err != nil {
				return err
			}
			return m.showPool(p)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&req.ID, "id", 0, "the id to give the pool (default: the next free one)")
	f.StringVar(&req.Name, "name", "", "the pool's name (required)")
	f.IntVar(&req.Points, "points", 1, "desired number of workers")
	f.IntVar(&req.MinPoints, "min", 0, "fewest workers (autoscaling and change_points stay above)")
	f.IntVar(&req.MaxPoints, "max", 10, "most workers")
	f.StringVar(&req.Provider, "provider", "local", "local (processes on the server's machine) or command")
	f.StringVar(&scaleUp, "scale-up", "", "command provider: the command that starts workers")
	f.StringVar(&scaleDown, "scale-down", "", "command provider: the command that stops one worker")
	f.StringSliceVar(&req.Worker.Queues, "queues", nil, "queues the workers take tasks from (default FifoQ)")
	f.StringSliceVar(&labels, "labels", nil, "labels k=v,… of the workers")
	f.IntVar(&req.Worker.Concurrency, "concurrency", 1, "tasks each worker runs at once")
	f.BoolVar(&req.Worker.AllowShell, "allow-shell", false, "the workers run shell tasks")
	f.IntVar(&drain, "drain-timeout", 0, "seconds a removed worker may finish its tasks (default 30)")
	f.BoolVar(&req.Autoscale.Enabled, "autoscale", false, "size the pool from its queues' backlog")
	f.IntVar(&req.Autoscale.TasksPerWorker, "tasks-per-worker", 0, "autoscale: backlog per worker (default: --concurrency)")
	f.IntVar(&age, "max-pending-age", 0, "autoscale: add a worker when a task waited this many seconds")
	f.IntVar(&cooldown, "cooldown", 0, "autoscale: seconds between changes (default 60)")
	return cmd
}

// showPool prints one pool, or the API's data with -o json.
func (m *meta) showPool(p *api.Pool) error {
	return m.show(func(w io.Writer) { printPool(w, m, p) })
}
