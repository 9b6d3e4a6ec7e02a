// Package chaos is `drover chaos`: a fault-injection harness. It runs a
// server and worker processes as users run them, drives a mixed load
// through the public client — idempotent submits retried when their
// outcome is unknown, a workflow DAG, a cron workflow — and meanwhile
// injects the faults of RELIABILITY.md R1-R4 in turn: worker kill -9,
// zombie workers (SIGSTOP, and a black-holed connection), server kill -9,
// the server down for half and one and a half lease TTLs, and in
// PostgreSQL mode a database restart. Every second it checks R12's
// invariants; at the end it drains and counts what was acknowledged,
// completed, lost, completed twice and stuck (docs/guarantees.md, "Chaos").
package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// Config says what to run. Zero fields take the defaults shown.
type Config struct {
	Binary      string        // the drover executable; default: this one
	Store       string        // the server's store; default a temporary SQLite file
	Workers     int           // worker processes; default 4
	Concurrency int           // slots per worker; default 16
	Duration    time.Duration // how long the load and the faults last; default 2m
	Rate        float64       // submits per second; default 20
	Clients     int           // concurrent submitters; default 16
	FaultEvery  time.Duration // one fault every; default 10s
	Faults      []string      // the kinds injected, in turn; default all (pg-restart only with PGRestart)
	Seed        uint64        // the fault order and the task mix follow from it; default 1
	Heartbeat   time.Duration // the server's --heartbeat-interval; default 1s
	LeaseTTL    time.Duration // the server's --lease-ttl; default 4 heartbeats
	Warmup      time.Duration // resource growth is measured after it; default 5m, at most a quarter of Duration
	DAGEvery    time.Duration // a run of the DAG workflow every; default 15s
	CronEvery   time.Duration // the cron workflow's interval; default 10s
	Drain       time.Duration // how long the end may take to settle; default 3m
	PGRestart   string        // shell command that restarts the store's PostgreSQL
	Dir         string        // logs, ledger and SQLite file; default a temporary directory, removed after a clean run
	ServerArgs  []string      // extra flags for the server
	Out         io.Writer
	// Sabotage, if set, is called once halfway through the load. Tests use
	// it to break a promise behind the server's back and see the run fail.
	Sabotage func(ctx context.Context, t Target) error
}

// Target is what Sabotage may break.
type Target struct {
	Store    string
	Ledger   string
	Acked    []string // acknowledged task ids so far
	StopLoad func()   // stops the submits, as the run's end does
}

func (c *Config) defaults() error {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.Workers, 4)
	def(&c.Concurrency, 16)
	def(&c.Clients, 16)
	defd(&c.Duration, 2*time.Minute)
	defd(&c.FaultEvery, 10*time.Second)
	defd(&c.Heartbeat, time.Second)
	defd(&c.LeaseTTL, 4*c.Heartbeat)
	defd(&c.Warmup, min(5*time.Minute, c.Duration/4))
	defd(&c.DAGEvery, 15*time.Second)
	defd(&c.CronEvery, 10*time.Second)
	defd(&c.Drain, 3*time.Minute)
	if c.Rate <= 0 {
		c.Rate = 20
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if len(c.Faults) == 0 {
		for _, f := range AllFaults {
			if f != FaultPGRestart || c.PGRestart != "" {
				c.Faults = append(c.Faults, f)
			}
		}
	}
	for _, f := range c.Faults {
		switch {
		case f == "none":
		case !slices.Contains(AllFaults, f):
			return fmt.Errorf("unknown fault %q (known: %s, none)", f, strings.Join(AllFaults, ", "))
		case f == FaultPGRestart && c.PGRestart == "":
			return errors.New("the pg-restart fault needs --pg-restart")
		}
	}
	if c.Workers < 2 {
		return errors.New("--workers must be at least 2: a faulted worker's tasks need somewhere to go")
	}
	return nil
}

// Report is what a run counted and measured.
type Report struct {
	Store   string  `json:"store"`
	Seed    uint64  `json:"seed"`
	Seconds float64 `json:"seconds"`

	Submits      int `json:"submits"`      // submits started
	Acknowledged int `json:"acknowledged"` // submits answered 2xx
	Recovered    int `json:"recovered"`    // acknowledged after at least one unknown outcome
	Unanswered   int `json:"unanswered"`   // never acknowledged (the run gave up retrying)
	Shed         int `json:"shed"`         // never sent: every client was busy retrying
	Rejected     int `json:"rejected"`     // refused with a 4xx

	Tasks      int `json:"tasks"` // tasks of the run, workflow steps included
	Completed  int `json:"completed"`
	Failed     int `json:"failed"`
	Unexpected int `json:"unexpected"` // ended otherwise than their kind says (a short task failed, …)
	Executions int `json:"executions"` // ledger lines "start": shell executions counted from outside

	Lost                  int `json:"lost"`                   // acknowledged, then missing or never terminal
	DuplicateCompletions  int `json:"duplicate_completions"`  // tasks with more than one accepted completion
	UnexplainedExecutions int `json:"unexplained_executions"` // tasks executed more often than their attempts explain
	RetryDuplicates       int `json:"retry_duplicates"`       // idempotency keys that made more than one task
	Stuck                 int `json:"stuck"`                  // tasks that broke R12, or workflow tasks and runs never terminal
	CronDuplicateTicks    int `json:"cron_duplicate_ticks"`   // cron ticks that fired more than once
	RequeuedEarly         int `json:"requeued_early"`         // orphans of worker faults requeued before their lease expired (R1)
	RequeuedLate          int `json:"requeued_late"`          // ... or later than a sweep and 1 s after it (R1)
	OrphanProcesses       int `json:"orphan_processes"`       // killed workers' task processes alive 1 s after the kill (R1)

	InvariantSamples int      `json:"invariant_samples"`
	Unavailable      int      `json:"unavailable_samples"` // samples the server did not answer in time (down, or too slow)
	Leaderless       int      `json:"leaderless_samples"`  // answered samples while the server did not yet lead (no sweeps)
	Violations       []string `json:"violations,omitempty"`
	Problems         []string `json:"problems,omitempty"` // the ids behind the counts above, for a bug report

	DAGRuns           int `json:"dag_runs"`
	DAGRunsFailed     int `json:"dag_runs_failed"`
	CronRuns          int `json:"cron_runs"`
	WorkflowRunErrors int `json:"workflow_run_errors"`

	Faults []*FaultReport `json:"faults"`

	Samples        []Sample `json:"samples"`
	WarmupSeconds  float64  `json:"warmup_s"`
	RSSWarmMB      float64  `json:"rss_warm_mb"`
	RSSEndMB       float64  `json:"rss_end_mb"`
	RSSMaxMB       float64  `json:"rss_max_mb"`
	RSSGrowthPct   float64  `json:"rss_growth_pct"`
	HeapWarmMB     float64  `json:"heap_warm_mb"` // Go heap in use: RSS less SQLite's page cache and the binary's pages
	HeapEndMB      float64  `json:"heap_end_mb"`
	HeapGrowthPct  float64  `json:"heap_growth_pct"`
	GoroutinesWarm int      `json:"goroutines_warm"`
	GoroutinesEnd  int      `json:"goroutines_end"`
	GoroutinesMin  int      `json:"goroutines_min"`
	GoroutinesMax  int      `json:"goroutines_max"`
	FDsWarm        int      `json:"fds_warm"`
	FDsEnd         int      `json:"fds_end"`
	FDsMax         int      `json:"fds_max"`
	ServerRestarts int      `json:"server_restarts"`
}

// Broken reports whether the run broke a promise: a loss, a duplicate, a
// stuck task, or a task or DAG run that ended otherwise than it must (a
// task that always succeeds failed: its retries were spent on faults).
func (r *Report) Broken() bool {
	return r.Lost > 0 || r.DuplicateCompletions > 0 || r.UnexplainedExecutions > 0 || r.RetryDuplicates > 0 ||
		r.Stuck > 0 || r.CronDuplicateTicks > 0 || r.Unexpected > 0 || r.DAGRunsFailed > 0 ||
		r.RequeuedEarly > 0 || r.RequeuedLate > 0 || r.OrphanProcesses > 0
}

// ErrBroken is returned, with the report, by a run that found a loss, a
// duplicate or a stuck task.
var ErrBroken = errors.New("chaos: a promise was broken")

type runner struct {
	cfg    *Config
	cl     *cluster
	began  time.Time
	ledger string
}

// Run runs the load and the faults, drains, checks and prints a report.
// It returns ErrBroken (and the report) when a promise was broken.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.Binary = exe
	}
	dir, keep := cfg.Dir, cfg.Dir != ""
	if !keep {
		var err error
		if dir, err = os.MkdirTemp("", "drover-chaos-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if cfg.Store == "" {
		cfg.Store = "sqlite://" + filepath.Join(dir, "chaos.db")
	}
	cl, err := newCluster(&cfg, dir)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	r := &runner{cfg: &cfg, cl: cl}
	rep, err := r.run(ctx, dir)
	if ctx.Err() != nil {
		// Interrupted: the drain and the checks did not run, so the counts
		// would read as a clean run. Say so instead.
		fmt.Fprintf(cfg.Out, "interrupted: no verdict; files kept in %s\n", dir)
		return nil, ctx.Err()
	}
	if rep != nil {
		rep.print(cfg.Out)
		if rep.Broken() {
			fmt.Fprintf(cfg.Out, "files kept in %s\n", dir)
			return rep, ErrBroken
		}
	}
	if err != nil {
		fmt.Fprintf(cfg.Out, "files kept in %s\n", dir)
		return rep, err
	}
	if !keep {
		cl.stop()
		os.RemoveAll(dir)
		if r.ledger != "" && filepath.Dir(r.ledger) != dir {
			os.RemoveAll(filepath.Dir(r.ledger))
		}
	}
	return rep, nil
}

func (r *runner) run(ctx context.Context, dir string) (*Report, error) {
	cfg, cl := r.cfg, r.cl
	out := cfg.Out
	if err := cl.startServer(ctx); err != nil {
		return nil, err
	}
	for i := range cfg.Workers {
		if _, err := cl.startWorker(i == 0); err != nil {
			return nil, err
		}
	}
	if err := cl.waitOnline(ctx, cfg.Workers); err != nil {
		return nil, fmt.Errorf("workers did not come online: %w", err)
	}
	rep := &Report{Store: strings.SplitN(cfg.Store, "://", 2)[0], Seed: cfg.Seed}
	ledger, err := openLedger(dir)
	if err != nil {
		return nil, err
	}
	r.ledger = ledger
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	fmt.Fprintf(out, "chaos: server %s (store %s), %d workers × %d, %.0f submits/s for %s, a fault every %s (%s), seed %d; files in %s\n",
		cl.api, rep.Store, cfg.Workers, cfg.Concurrency, cfg.Rate, cfg.Duration, cfg.FaultEvery, strings.Join(cfg.Faults, ", "), cfg.Seed, dir)

	wf := &workflows{c: cl.c, ledger: ledger, cronTick: cfg.CronEvery}
	if err := wf.create(ctx, nonce); err != nil {
		return nil, err
	}

	r.began = time.Now()
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var wg sync.WaitGroup
	goBG := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	events := newCompletions()
	streamClient, _ := client.New(cl.api) // no timeout: the stream stays open
	goBG(func() { events.follow(bg, streamClient) })
	check := newChecker(cfg, cl)
	goBG(func() { check.run(bg) })
	var samplesMu sync.Mutex
	goBG(func() { sampleResources(bg, cl, r.began, 5*time.Second, &rep.Samples, &samplesMu) })

	// The load: submits until Duration, retried until the drain gives up.
	giveUp, stopRetrying := context.WithTimeout(ctx, cfg.Duration+cfg.Drain)
	defer stopRetrying()
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	defer stopLoad()
	ld := &load{cfg: cfg, c: cl.c, ledger: ledger, nonce: nonce}
	loadDone := make(chan struct{})
	go func() { ld.run(loadCtx, giveUp); close(loadDone) }()
	goBG(func() { wf.runDAG(loadCtx, cfg.DAGEvery) })

	if cfg.Sabotage != nil {
		goBG(func() {
			sleep(loadCtx, cfg.Duration/2)
			var acked []string
			for _, s := range ld.snapshot() {
				if s.taskID != "" {
					acked = append(acked, s.taskID)
				}
			}
			if err := cfg.Sabotage(ctx, Target{Store: cfg.Store, Ledger: ledger, Acked: acked, StopLoad: stopLoad}); err != nil {
				fmt.Fprintf(out, "  sabotage failed: %v\n", err)
			}
		})
	}

	// The faults, one every FaultEvery, the last well before the end.
	sch := newSchedule(cfg.Seed, cfg.Faults)
	for i := 1; !slices.Contains(cfg.Faults, "none"); i++ {
		at := r.began.Add(time.Duration(i) * cfg.FaultEvery)
		if at.After(r.began.Add(cfg.Duration - cfg.FaultEvery/2)) {
			break
		}
		sleep(loadCtx, time.Until(at))
		if loadCtx.Err() != nil {
			break
		}
		kind := sch.next()
		f := r.inject(ctx, kind, sch)
		rep.Faults = append(rep.Faults, f)
		fmt.Fprintf(out, "  %6.1fs  %-16s %-10s %d tasks in flight%s\n", f.At, kind, f.Target, len(f.orphans), errSuffix(f.Error))
		if f.Error != "" {
			return rep, fmt.Errorf("fault %s: %s", kind, f.Error)
		}
	}
	<-loadCtx.Done()
	fmt.Fprintf(out, "  %6.1fs  load stopped; draining\n", time.Since(r.began).Seconds())
	<-loadDone
	// The drain waits for what existed once the last submit was answered:
	// a submit retried past the load's end is acknowledged later.
	drainFrom := time.Now()
	// Every fault's damage is repaired: the server is up (a fault restarts
	// it) and the live workers are back online.
	if err := cl.waitOnline(ctx, cfg.Workers); err != nil {
		return rep, fmt.Errorf("workers did not come back online: %w", err)
	}
	if err := r.drain(giveUp, drainFrom, ld, wf); err != nil {
		fmt.Fprintf(out, "  drain: %v\n", err)
	}
	rep.Seconds = time.Since(r.began).Seconds()
	stopBG()
	wg.Wait()

	rep.InvariantSamples, rep.Unavailable, rep.Leaderless = check.samples, check.unanswered, check.leaderless
	rep.Violations = check.violations
	for i, f := range rep.Faults {
		var until time.Time
		if i+1 < len(rep.Faults) {
			until = rep.Faults[i+1].start
		}
		f.measure(events, until, cfg.LeaseTTL, check.ledSince)
		rep.RequeuedEarly += f.Early
		rep.RequeuedLate += f.Late
		rep.OrphanProcesses += f.OrphanProcesses
		for _, c := range f.orphanCmds {
			if len(rep.Problems) < 200 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("orphan: %s, of %s, alive 1 s after the kill at %.1f s", c, f.Target, f.At))
			}
		}
		if f.Target == "server" {
			rep.ServerRestarts++
		}
	}
	if err := r.verify(ctx, rep, drainFrom, ld, wf, events, check, ledger); err != nil {
		return rep, err
	}
	rep.resources(cfg.Warmup)
	return rep, nil
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " — " + e
}

// drain waits until every submit was answered and every task and run
// that existed when the load stopped has ended.
func (r *runner) drain(ctx context.Context, from time.Time, ld *load, wf *workflows) error {
	c := r.cl.c
	return pollUntil(ctx, time.Second, func() bool {
		for _, st := range []string{"pending", "running"} {
			l, err := c.Tasks.List(ctx, client.TaskListOptions{Queue: queue, Status: st, Limit: 1000})
			if err != nil {
				return false
			}
			for _, t := range l.Tasks {
				if t.CreatedAt.Before(from) {
					return false
				}
			}
		}
		for _, id := range []int64{wf.dag, wf.cron} {
			runs, err := wf.runs(ctx, id)
			if err != nil {
				return false
			}
			for _, run := range runs {
				if run.CreatedAt.Before(from) && !runEnded(run.Status) {
					return false
				}
			}
		}
		return true
	})
}

func runEnded(status string) bool {
	return status == "completed" || status == "failed" || status == "killed"
}

func pollUntil(ctx context.Context, every time.Duration, ok func() bool) error {
	for !ok() {
		select {
		case <-ctx.Done():
			return errors.New("gave up waiting for every task to end")
		case <-time.After(every):
		}
	}
	return nil
}

// verify reads every task of the run and compares it with what was
// acknowledged, the ledger and the accepted completions.
func (r *runner) verify(ctx context.Context, rep *Report, drainFrom time.Time, ld *load, wf *workflows, ev *completions, check *checker, ledger string) error {
	c := r.cl.c
	problem := func(format string, args ...any) {
		if len(rep.Problems) < 200 {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
		}
	}
	tasks := map[string]api.Task{}
	for off := 0; ; off += 1000 {
		l, err := c.Tasks.List(ctx, client.TaskListOptions{Queue: queue, Limit: 1000, Offset: off})
		if err != nil {
			return fmt.Errorf("listing tasks: %w", err)
		}
		for _, t := range l.Tasks {
			tasks[t.TaskID] = t
		}
		if len(l.Tasks) < 1000 {
			break
		}
	}
	// get finds a task the listing missed (it pages while cron adds tasks).
	get := func(id string) (api.Task, bool, error) {
		if t, ok := tasks[id]; ok {
			return t, true, nil
		}
		t, err := c.Tasks.Get(ctx, id)
		var ce *client.Error
		if errors.As(err, &ce) && ce.StatusCode == http.StatusNotFound {
			return api.Task{}, false, nil
		}
		if err != nil {
			return api.Task{}, false, err
		}
		tasks[id] = *t
		return *t, true, nil
	}

	// Acknowledged submits: each must exist and have ended as its kind says.
	subs := ld.snapshot()
	ld.mu.Lock()
	rep.Shed, rep.Rejected = ld.shed, ld.rejected
	if ld.rejected > 0 {
		problem("a submit was refused: %s", ld.rejectedMsg)
	}
	ld.mu.Unlock()
	rep.Submits = len(subs)
	for _, s := range subs {
		if s.taskID == "" {
			rep.Unanswered++
			continue
		}
		rep.Acknowledged++
		if s.retried {
			rep.Recovered++
		}
		t, ok, err := get(s.taskID)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			rep.Lost++
			problem("lost: task %s (submit %d, key %s) was acknowledged and is gone", s.taskID, s.n, s.key)
		case !client.Terminal(t.Status):
			rep.Lost++
			problem("lost: task %s (submit %d) acknowledged, still %s after the drain", s.taskID, s.n, t.Status)
		case t.Status != expectedEnd(s.kind):
			rep.Unexpected++
			problem("unexpected: %s task %s ended %s (attempt %d): %s", s.kind, s.taskID, t.Status, t.Attempt, t.Error)
		}
	}

	// Workflow runs: each that started before the drain ended; the DAG's
	// succeeded; no cron tick fired twice.
	for _, id := range []int64{wf.dag, wf.cron} {
		runs, err := wf.runs(ctx, id)
		if err != nil {
			return err
		}
		ticks := map[time.Time]int{}
		for _, run := range runs {
			if id == wf.dag {
				rep.DAGRuns++
			} else {
				rep.CronRuns++
			}
			if run.Tick != nil {
				ticks[run.Tick.UTC()]++
				if ticks[run.Tick.UTC()] == 2 {
					rep.CronDuplicateTicks++
					problem("cron tick %s fired twice", run.Tick.UTC())
				}
			}
			if run.CreatedAt.After(drainFrom) {
				continue
			}
			if !runEnded(run.Status) {
				rep.Stuck++
				problem("stuck: run %d of workflow %d still %s", run.ID, id, run.Status)
			} else if run.Status != "completed" && id == wf.dag {
				rep.DAGRunsFailed++
				problem("unexpected: DAG run %d ended %s", run.ID, run.Status)
			}
			for _, st := range run.Steps {
				if st.TaskID != "" {
					if _, _, err := get(st.TaskID); err != nil {
						return err
					}
				}
			}
		}
	}
	rep.WorkflowRunErrors = int(wf.runErrs.Load())

	// Every task of the run: terminal, created once per key, completed at
	// most once, executed no more often than its attempts.
	keys := map[string]int{}
	for _, t := range tasks {
		rep.Tasks++
		switch t.Status {
		case "completed":
			rep.Completed++
		case "failed":
			rep.Failed++
		}
		if t.IdempotencyKey != "" {
			keys[t.IdempotencyKey]++
			if keys[t.IdempotencyKey] == 2 {
				rep.RetryDuplicates++
				problem("duplicate: idempotency key %s made two tasks", t.IdempotencyKey)
			}
		}
		if !client.Terminal(t.Status) && t.CreatedAt.Before(drainFrom) && t.Labels["chaos_kind"] == "" {
			rep.Stuck++
			problem("stuck: workflow task %s still %s after the drain", t.TaskID, t.Status)
		}
		if n := len(ev.complete[t.TaskID]); n > 1 {
			rep.DuplicateCompletions++
			problem("duplicate: task %s has %d accepted completions (events %v)", t.TaskID, n, ev.complete[t.TaskID])
		}
	}
	execs, err := readLedger(ledger)
	if err != nil {
		return err
	}
	for id, attempts := range execs {
		rep.Executions += len(attempts)
		t, ok, err := get(id)
		if err != nil {
			return err
		}
		if !ok {
			rep.UnexplainedExecutions++
			problem("unexplained: task %s ran %d times and does not exist", id, len(attempts))
			continue
		}
		if slices.Max(attempts) > t.Attempt {
			// Listed before this attempt began (cron and DAG steps keep
			// starting during the drain): judge it by its row now.
			fresh, err := c.Tasks.Get(ctx, id)
			if err != nil {
				return err
			}
			t = *fresh
		}
		seen := map[int]bool{}
		for _, a := range attempts {
			if seen[a] || a > t.Attempt || a < 1 {
				rep.UnexplainedExecutions++
				problem("unexplained: task %s ran attempts %v, its last attempt is %d", id, attempts, t.Attempt)
				break
			}
			seen[a] = true
		}
	}
	for id := range check.stuck {
		rep.Stuck++
		problem("stuck: task %s broke R12 (see violations)", id)
	}
	return nil
}

// openLedger creates the ledger, dir/ledger, writable by anyone: a worker
// running as root runs shell tasks as an unprivileged user
// (docs/security.md). When that user cannot reach dir (a private parent
// directory), the ledger goes to a directory of its own under the system's
// temporary directory, and dir/ledger links to it.
func openLedger(dir string) (string, error) {
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	at := dir
	if !reachable(dir) {
		var err error
		if at, err = os.MkdirTemp("", "drover-chaos-ledger-"); err != nil {
			return "", err
		}
		if err := os.Chmod(at, 0o755); err != nil {
			return "", err
		}
	}
	ledger := filepath.Join(at, "ledger")
	if err := os.WriteFile(ledger, nil, 0o666); err != nil {
		return "", err
	}
	if err := os.Chmod(ledger, 0o666); err != nil { // past the umask
		return "", err
	}
	if at != dir {
		if err := os.Symlink(ledger, filepath.Join(dir, "ledger")); err != nil {
			return "", err
		}
	}
	return ledger, nil
}

// reachable reports whether everyone may enter dir: it and every directory
// above it can be searched by others.
func reachable(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// readLedger reads the executions the shell tasks recorded: task id to the
// attempts that started.
func readLedger(path string) (map[string][]int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]int{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[2] != "start" {
			continue
		}
		a, err := strconv.Atoi(fields[1])
		if err != nil {
			a = -1
		}
		out[fields[0]] = append(out[fields[0]], a)
	}
	return out, sc.Err()
}

// resources summarizes the samples taken after the warm-up: RSS growth is
// the mean of the last minute over the mean of the first minute after it.
func (r *Report) resources(warmup time.Duration) {
	r.WarmupSeconds = warmup.Seconds()
	var after []Sample
	for _, s := range r.Samples {
		if s.Seconds >= warmup.Seconds() {
			after = append(after, s)
		}
	}
	if len(after) == 0 {
		return
	}
	window := func(from, to float64) (rss, heap float64, gor, fds int) {
		n := 0
		for _, s := range after {
			if s.Seconds >= from && s.Seconds < to {
				rss += s.RSSMB
				heap += s.HeapMB
				gor += s.Goroutines
				fds += s.FDs
				n++
			}
		}
		if n == 0 {
			return 0, 0, 0, 0
		}
		return rss / float64(n), heap / float64(n), gor / n, fds / n
	}
	first, last := after[0].Seconds, after[len(after)-1].Seconds
	span := min(60, (last-first)/2+1)
	r.RSSWarmMB, r.HeapWarmMB, r.GoroutinesWarm, r.FDsWarm = window(first, first+span)
	r.RSSEndMB, r.HeapEndMB, r.GoroutinesEnd, r.FDsEnd = window(last-span+0.001, last+1)
	r.GoroutinesMin = math.MaxInt
	for _, s := range after {
		r.RSSMaxMB = max(r.RSSMaxMB, s.RSSMB)
		r.FDsMax = max(r.FDsMax, s.FDs)
		r.GoroutinesMin = min(r.GoroutinesMin, s.Goroutines)
		r.GoroutinesMax = max(r.GoroutinesMax, s.Goroutines)
	}
	r.RSSGrowthPct, r.HeapGrowthPct = growth(r.RSSWarmMB, r.RSSEndMB), growth(r.HeapWarmMB, r.HeapEndMB)
	r.RSSWarmMB, r.RSSEndMB, r.RSSMaxMB = round1(r.RSSWarmMB), round1(r.RSSEndMB), round1(r.RSSMaxMB)
	r.HeapWarmMB, r.HeapEndMB = round1(r.HeapWarmMB), round1(r.HeapEndMB)
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// growth is the change from a to b in percent, to one decimal.
func growth(a, b float64) float64 {
	if a <= 0 {
		return 0
	}
	return math.Round((b/a-1)*1000) / 10
}

func (r *Report) print(out io.Writer) {
	fmt.Fprintf(out, "\nsubmits      %d started, %d acknowledged (%d after a retry with the same key), %d unanswered, %d shed, %d refused\n",
		r.Submits, r.Acknowledged, r.Recovered, r.Unanswered, r.Shed, r.Rejected)
	fmt.Fprintf(out, "tasks        %d (workflow steps included): %d completed, %d failed, %d ended unexpectedly; %d shell executions in the ledger\n",
		r.Tasks, r.Completed, r.Failed, r.Unexpected, r.Executions)
	fmt.Fprintf(out, "workflows    %d DAG runs (%d not completed, %d starts refused), %d cron runs\n",
		r.DAGRuns, r.DAGRunsFailed, r.WorkflowRunErrors, r.CronRuns)
	fmt.Fprintf(out, "invariants   %d samples (%d unanswered: the server down or slower than %s; %d before it led), %d violations\n",
		r.InvariantSamples, r.Unavailable, sampleTimeout, r.Leaderless, len(r.Violations))
	for _, f := range r.Faults {
		line := fmt.Sprintf("fault %6.1fs %-16s %-10s %3d in flight", f.At, f.Kind, f.Target, f.Orphans)
		if f.Target == "server" || f.Target == "postgresql" {
			line += fmt.Sprintf(", %d re-dispatched, next start after %.2f s", f.Released, f.ResumeS)
		} else {
			line += fmt.Sprintf(", %d requeued after p50 %.2f s max %.2f s (%d early, %d late), %d re-leased after p50 %.2f s max %.2f s",
				f.Requeued, f.RequeueP50S, f.RequeueMaxS, f.Early, f.Late, f.Released, f.ReleaseP50S, f.ReleaseMaxS)
			if f.Kind == FaultWorkerKill {
				line += fmt.Sprintf(", %d task processes alive 1 s after the kill", f.OrphanProcesses)
			}
		}
		fmt.Fprintln(out, line)
	}
	if len(r.Samples) > 0 {
		fmt.Fprintf(out, "server       after %.0f s warm-up: RSS %.1f → %.1f MB (%+.1f %%, max %.1f), Go heap %.1f → %.1f MB (%+.1f %%), goroutines %d → %d (min %d, max %d), open files %d → %d (max %d); %d restarts\n",
			r.WarmupSeconds, r.RSSWarmMB, r.RSSEndMB, r.RSSGrowthPct, r.RSSMaxMB, r.HeapWarmMB, r.HeapEndMB, r.HeapGrowthPct,
			r.GoroutinesWarm, r.GoroutinesEnd, r.GoroutinesMin, r.GoroutinesMax, r.FDsWarm, r.FDsEnd, r.FDsMax, r.ServerRestarts)
	}
	for _, v := range r.Violations {
		fmt.Fprintln(out, "violation   ", v)
	}
	for _, p := range r.Problems {
		fmt.Fprintln(out, "problem     ", p)
	}
	verdict := "OK"
	if r.Broken() {
		verdict = "BROKEN"
	}
	fmt.Fprintf(out, "result       %s: lost %d, duplicate completions %d, unexplained executions %d, retry duplicates %d, stuck %d, cron ticks fired twice %d, unexpected ends %d, requeued early %d or late %d, orphan processes %d\n",
		verdict, r.Lost, r.DuplicateCompletions, r.UnexplainedExecutions, r.RetryDuplicates, r.Stuck, r.CronDuplicateTicks, r.Unexpected+r.DAGRunsFailed,
		r.RequeuedEarly, r.RequeuedLate, r.OrphanProcesses)
}
