package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// queue is the queue of every task a run submits, so its checks see only
// its own tasks.
const queue = "chaos"

// The kinds of task in the mix, and the end each must reach.
const (
	kindShort   = "short"   // a built-in sleep of 0.05-0.5 s
	kindLedger  = "ledger"  // a shell task that appends to the ledger
	kindLong    = "long"    // a shell task of 4-12 s: in flight when faults strike
	kindFailing = "failing" // a shell task that always fails: retried once, then failed
	kindRetried = "retried" // a shell task that fails its first attempt, then succeeds
)

// mix is the share of each kind, in percent.
var mix = []struct {
	kind   string
	weight int
}{{kindShort, 40}, {kindLedger, 25}, {kindLong, 8}, {kindFailing, 12}, {kindRetried, 15}}

func expectedEnd(kind string) string {
	if kind == kindFailing {
		return "failed"
	}
	return "completed"
}

// ledgerCommand is a shell command that records its execution in the
// ledger — task id, attempt, "start" and, if it gets there, "done" — then
// does what body says.
func ledgerCommand(ledger, body string) string {
	mark := func(what string) string {
		return fmt.Sprintf(`echo "$DROVER_TASK_ID $DROVER_TASK_ATTEMPT %s" >> '%s'`, what, ledger)
	}
	return mark("start") + "; " + body + "; " + mark("done")
}

func shell(command string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"command": command})
	return b
}

// request builds submit number n; it depends only on the seed and n, so a
// retried submit sends the same body.
func request(seed uint64, nonce string, n int, ledger string) (api.SubmitTaskRequest, string) {
	rng := rand.New(rand.NewPCG(seed, uint64(n))) // #nosec G404 G115 -- a seeded, reproducible load mix, not a secret; n counts submits up from 0
	pick := rng.IntN(100)
	kind := mix[len(mix)-1].kind
	for _, m := range mix {
		if pick < m.weight {
			kind = m.kind
			break
		}
		pick -= m.weight
	}
	req := api.SubmitTaskRequest{Queue: queue, IdempotencyKey: fmt.Sprintf("chaos-%s-%d", nonce, n),
		Labels: map[string]string{"chaos_kind": kind}}
	retries := func(n int, backoff float64) {
		req.MaxRetries, req.RetryBackoffSeconds = &n, &backoff
	}
	switch kind {
	case kindShort:
		req.TaskType = "sleep"
		req.Payload = json.RawMessage(fmt.Sprintf(`{"seconds":%.2f}`, 0.05+rng.Float64()*0.45))
	case kindLedger:
		req.TaskType, req.Payload = "shell", shell(ledgerCommand(ledger, "sleep 0.2"))
	case kindLong:
		req.TaskType, req.Payload = "shell", shell(ledgerCommand(ledger, fmt.Sprintf("sleep %d", 4+rng.IntN(9))))
	case kindFailing:
		req.TaskType, req.Payload = "shell", shell(ledgerCommand(ledger, "exit 3"))
		retries(1, 0.5)
	case kindRetried:
		req.TaskType, req.Payload = "shell", shell(ledgerCommand(ledger, `[ "$DROVER_TASK_ATTEMPT" -gt 1 ] || exit 1`))
		retries(2, 0.5)
	}
	return req, kind
}

// submitted is what the load generator knows of one submit.
type submitted struct {
	n       int
	kind    string
	key     string
	taskID  string // empty: never acknowledged
	retried bool   // at least one attempt had no known outcome
}

// load is the open-loop submit generator: submits are due at a fixed
// rate whatever the server does; a submit whose outcome is unknown (no
// answer, a 5xx, 429) is retried with the same Idempotency-Key until it
// is acknowledged or the run gives up.
type load struct {
	cfg    *Config
	c      *client.Client
	ledger string
	nonce  string

	mu          sync.Mutex
	subs        []*submitted
	shed        int // submits not even sent: every client was busy retrying
	rejected    int // refused with a 4xx: a harness bug, reported
	rejectedMsg string

	inFlight atomic.Int64
}

func (l *load) run(ctx context.Context, giveUp context.Context) {
	jobs := make(chan int, max(int(l.cfg.Rate), 1)*10)
	var wg sync.WaitGroup
	for range l.cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				if ctx.Err() != nil { // the load is over: what waits is shed
					l.mu.Lock()
					l.shed++
					l.mu.Unlock()
					continue
				}
				l.submit(giveUp, n)
			}
		}()
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / l.cfg.Rate))
	defer tick.Stop()
	n := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			select {
			case jobs <- n:
			default:
				l.mu.Lock()
				l.shed++
				l.mu.Unlock()
			}
			n++
		}
	}
	close(jobs)
	wg.Wait()
}

func (l *load) submit(ctx context.Context, n int) {
	req, kind := request(l.cfg.Seed, l.nonce, n, l.ledger)
	s := &submitted{n: n, kind: kind, key: req.IdempotencyKey}
	l.mu.Lock()
	l.subs = append(l.subs, s)
	l.mu.Unlock()
	l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := l.c.Tasks.Submit(actx, req)
		cancel()
		if err == nil {
			l.mu.Lock()
			s.taskID = resp.TaskID
			l.mu.Unlock()
			return
		}
		var ce *client.Error
		if errors.As(err, &ce) && ce.StatusCode/100 == 4 && ce.StatusCode != http.StatusTooManyRequests {
			l.mu.Lock()
			l.rejected++
			l.rejectedMsg = err.Error()
			l.mu.Unlock()
			return
		}
		l.mu.Lock()
		s.retried = true
		l.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (l *load) snapshot() []submitted {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]submitted, len(l.subs))
	for i, s := range l.subs {
		out[i] = *s
	}
	return out
}

// workflows runs a DAG workflow on demand every dagEvery and a cron
// workflow on its own schedule, both of ledger steps.
type workflows struct {
	c        *client.Client
	ledger   string
	dag      int64
	cron     int64
	runErrs  atomic.Int64
	dagRuns  atomic.Int64
	cronTick time.Duration
}

func (w *workflows) create(ctx context.Context, nonce string) error {
	step := func(name string, deps ...string) api.WorkflowStep {
		return api.WorkflowStep{Name: name, TaskType: "shell", Queue: queue, DependsOn: deps, MaxRetries: 1,
			Payload: shell(ledgerCommand(w.ledger, "sleep 0.3"))}
	}
	dag, err := w.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "chaos-dag-" + nonce,
		Steps: []api.WorkflowStep{step("extract"), step("left", "extract"), step("right", "extract"), step("join", "left", "right")}})
	if err != nil {
		return fmt.Errorf("creating the DAG workflow: %w", err)
	}
	w.dag = dag.ID
	cron, err := w.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "chaos-cron-" + nonce,
		Schedule: fmt.Sprintf("@every %s", w.cronTick), Steps: []api.WorkflowStep{step("tick")}})
	if err != nil {
		return fmt.Errorf("creating the cron workflow: %w", err)
	}
	w.cron = cron.ID
	return nil
}

// runDAG starts a run of the DAG every interval until ctx ends. A start
// whose outcome is unknown is not retried (runs have no idempotency key):
// it is counted.
func (w *workflows) runDAG(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := w.c.Workflows.Run(rctx, w.dag, api.RunWorkflowRequest{}); err != nil {
				w.runErrs.Add(1)
			} else {
				w.dagRuns.Add(1)
			}
			cancel()
		}
	}
}

// runs lists every run of a workflow.
func (w *workflows) runs(ctx context.Context, id int64) ([]api.Run, error) {
	var out []api.Run
	for off := 0; ; off += 500 {
		l, err := w.c.Runs.List(ctx, client.RunListOptions{WorkflowID: id, Limit: 500, Offset: off})
		if err != nil {
			return nil, err
		}
		out = append(out, l.Runs...)
		if len(l.Runs) < 500 {
			return out, nil
		}
	}
}
