package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/drover-run/drover/internal/chaos"
)

// TestChaosDetectsViolations runs drover chaos briefly, with one worker
// kill -9, and breaks two promises behind the server's back halfway: it
// deletes an acknowledged task's row and forges an execution in the ledger
// that no attempt explains. The run must fail and count both — a checker
// that cannot fail proves nothing. (CI runs the clean two-minute pass.)
func TestChaosDetectsViolations(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run takes half a minute")
	}
	t.Parallel()
	var out bytes.Buffer
	var deleted, forged string
	cfg := chaos.Config{
		Binary: droverBin, Dir: t.TempDir(), Workers: 2, Concurrency: 8, Duration: 12 * time.Second, Rate: 10,
		FaultEvery: 5 * time.Second, Faults: []string{chaos.FaultWorkerKill}, Drain: 40 * time.Second, Out: &out,
		Sabotage: func(ctx context.Context, tg chaos.Target) error {
			if len(tg.Acked) < 2 {
				return fmt.Errorf("only %d tasks acknowledged halfway", len(tg.Acked))
			}
			deleted, forged = tg.Acked[0], tg.Acked[1]
			db, err := sql.Open("sqlite", strings.TrimPrefix(tg.Store, "sqlite://")+"?_pragma=busy_timeout(5000)")
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, `DELETE FROM tasks WHERE id = ?`, deleted); err != nil {
				return err
			}
			f, err := os.OpenFile(tg.Ledger, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = fmt.Fprintf(f, "%s 9 start\n", forged)
			return err
		},
	}
	rep, err := chaos.Run(context.Background(), cfg)
	t.Logf("drover chaos:\n%s", out.String())
	if !errors.Is(err, chaos.ErrBroken) {
		t.Fatalf("Run() error = %v, want ErrBroken", err)
	}
	if rep.Lost != 1 || !strings.Contains(out.String(), "lost: task "+deleted) {
		t.Errorf("lost = %d, want 1: the deleted task %s", rep.Lost, deleted)
	}
	// The deleted task's own executions no longer have a task to explain
	// them either: one or two.
	if n := rep.UnexplainedExecutions; n < 1 || n > 2 || !strings.Contains(out.String(), "unexplained: task "+forged) {
		t.Errorf("unexplained executions = %d, want the forged execution of %s (and perhaps the deleted task's)", n, forged)
	}
	if len(rep.Faults) == 0 || rep.Faults[0].Kind != chaos.FaultWorkerKill {
		t.Errorf("faults = %+v, want a worker kill", rep.Faults)
	}
	// Nothing else broke: the run itself was sound.
	if rep.Acknowledged < 50 || rep.DuplicateCompletions != 0 || rep.Stuck != 0 || rep.Unexpected != 0 || rep.Executions == 0 {
		t.Errorf("acknowledged %d, duplicate completions %d, stuck %d, unexpected ends %d, executions %d; want ≥ 50, 0, 0, 0, > 0",
			rep.Acknowledged, rep.DuplicateCompletions, rep.Stuck, rep.Unexpected, rep.Executions)
	}
}
