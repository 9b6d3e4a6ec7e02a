package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newPoolsCommand(m *meta) *cobra.Command {
	return newGroup("pools", "Create, scale and delete pools of workers with a desired size",
		newPoolsCreateCommand(m),
		newPoolsListCommand(m),
		newPoolsGetCommand(m),
		newPoolsScaleCommand(m),
		newPoolsEventsCommand(m),
		newPoolsDeleteCommand(m),
	)
}

// parsePoolID reads a pool id argument.
func parsePoolID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("pool id %q: use a positive integer", s)
	}
	return id, nil
}

// printPool shows one pool and its workers.
func printPool(w io.Writer, m *meta, p *api.Pool) {
	fmt.Fprintf(w, "Pool %d (%s)\n\n", p.ID, p.Name)
	fmt.Fprintf(w, "  points\t%d (running %d, range %d..%d)\n", p.Points, p.Running, p.MinPoints, p.MaxPoints)
	fmt.Fprintf(w, "  provider\t%s %s\n", p.Provider, string(p.ProviderConfig))
	fmt.Fprintf(w, "  worker\tqueues %s, concurrency %d, shell %v\n", strings.Join(p.Worker.Queues, ","), p.Worker.Concurrency, p.Worker.AllowShell)
	if p.Autoscale.Enabled {
		fmt.Fprintf(w, "  autoscale\ton: %d tasks per worker, max pending age %ds, cooldown %ds\n",
			p.Autoscale.TasksPerWorker, p.Autoscale.MaxPendingAgeSeconds, p.Autoscale.CooldownSeconds)
	} else {
		fmt.Fprintln(w, "  autoscale\toff")
	}
	fmt.Fprintf(w, "  scaled\t%s\n", m.ago(p.ScaledAt))
	if len(p.Workers) == 0 {
		fmt.Fprintln(w, "\nNo workers.")
		return
	}
	fmt.Fprintln(w, "\nWORKER\tSTATUS\tHOST\tPID\tACTIVE\tLAST SEEN")
	for _, wk := range p.Workers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", wk.ID, wk.Status, wk.Hostname, wk.PID, wk.ActiveTasks, m.ago(wk.LastSeen))
	}
}
