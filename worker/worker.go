package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
)

// A Worker runs tasks leased from a Drover server. Create one with New,
// add handlers with Handle, then call Run.
type Worker struct {
	cfg    Config
	log    *slog.Logger
	client *agentClient
	host   *hostInfo
	rep    *reporter

	regMu sync.Mutex     // one registration at a time
	tasks sync.WaitGroup // one per running task

	mu       sync.Mutex
	handlers map[string]HandlerFunc // frozen once Run starts
	started  bool
	sess     session
	interval time.Duration   // heartbeat interval, from the server
	runs     map[string]*run // by task id
	draining bool
	drained  chan struct{} // closed when draining and nothing runs
	slotFree chan struct{} // cap 1: a slot was freed, or draining began
	baseCtx  context.Context
}

// session is one registration: the id and credential the server gave, and
// a generation that tells a caller holding a stale one that someone else
// has already registered again.
type session struct {
	id, cred string
	gen      uint64
}

// run is one task being executed.
type run struct {
	lease  api.Lease
	cancel context.CancelCauseFunc
	stop   string // set when the server stopped it: its result is not sent
}

// stopError is the cause of a task's context when its lease was taken away.
type stopError struct{ reason string }

func (e *stopError) Error() string { return "task stopped: " + e.reason }

// timeoutError is the cause of a task's context when its timeout passed.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("task timed out after %s", e.d) }

// exitTimeout is the exit code of a timed-out task, as GNU timeout(1) uses.
const exitTimeout = 124

// New returns a Worker for cfg, with the built-in task types registered.
func New(cfg Config) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = newHTTPClient()
	}
	w := &Worker{
		cfg:      cfg,
		log:      cfg.Logger,
		client:   &agentClient{base: cfg.Server, hc: hc},
		handlers: map[string]HandlerFunc{},
		runs:     map[string]*run{},
		drained:  make(chan struct{}),
		slotFree: make(chan struct{}, 1),
	}
	w.rep = newReporter(w)
	w.handlers["echo"] = execEcho
	w.handlers["sleep"] = execSleep
	w.handlers["http"] = newHTTPExec(cfg.HTTPAllow).run
	if cfg.AllowShell {
		sh := &shellExec{user: cfg.ShellUser, grace: cfg.KillGrace, secrets: w.secrets}
		w.handlers["shell"] = sh.run
	}
	return w, nil
}

// Handle registers h for tasks of taskType, replacing any built-in of that
// name. Call it before Run: the types are advertised when registering.
func (w *Worker) Handle(taskType string, h HandlerFunc) {
	if taskType == "" || h == nil {
		panic("worker: Handle needs a task type and a handler")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		panic("worker: Handle called after Run")
	}
	w.handlers[taskType] = h
}

// ID returns the worker id the server gave, or "" before registration.
func (w *Worker) ID() string { return w.session().id }

func (w *Worker) session() session {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sess
}

// secrets are the values no task environment may contain: the join token
// and the current credential.
func (w *Worker) secrets() []string { return []string{w.cfg.Token, w.session().cred} }

// taskTypes is what the worker advertises: one per handler.
func (w *Worker) taskTypes() []string { return slices.Sorted(maps.Keys(w.handlers)) }

// Run registers with the server and runs tasks until ctx is done or the
// server orders a drain; then it shuts down in the order the package
// documentation gives and returns nil. It returns an error only when the
// server refuses the first registration (a wrong token, say): retrying
// could not help.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return errors.New("worker: Run called twice")
	}
	w.started = true
	w.baseCtx = context.WithoutCancel(ctx)
	w.mu.Unlock()

	w.host = probeHost(w.cfg)
	w.loadState()
	if err := w.register(ctx, true); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	w.log.Info("worker registered", "worker_id", w.ID(), "server", w.cfg.Server,
		"concurrency", w.cfg.Concurrency, "queues", w.cfg.Queues)

	// Reporting and heartbeats outlive ctx: they carry the drain.
	hbCtx, stopHB := context.WithCancel(w.baseCtx)
	repCtx, stopRep := context.WithCancel(w.baseCtx)
	leaseCtx, stopLease := context.WithCancel(ctx)
	defer stopHB()
	defer stopRep()
	defer stopLease()
	hbDone, repDone, leaseDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() { defer close(hbDone); w.heartbeatLoop(hbCtx) }()
	ctlDone := make(chan struct{})
	go func() { defer close(ctlDone); w.controlLoop(hbCtx) }()
	go func() { defer close(repDone); w.rep.run(repCtx) }()
	go func() { defer close(leaseDone); w.leaseLoop(leaseCtx) }()

	select {
	case <-ctx.Done():
		w.log.Info("worker stopping: draining running tasks", "timeout", w.cfg.DrainTimeout.String())
	case <-w.drained:
		w.log.Info("worker drained by the server")
	}

	// 1. Stop leasing. An answer cut short here may have leased us tasks
	// we never saw; deregistering hands them back with the rest.
	w.beginDrain()
	stopLease()
	<-leaseDone

	// 2. Let running tasks finish; 3. kill what is left, sending no result.
	if !waitFor(&w.tasks, w.cfg.DrainTimeout) {
		n := w.stopAll("shutdown")
		w.log.Warn("drain timeout: killing running tasks; they are handed back", "tasks", n)
		if !waitFor(&w.tasks, w.cfg.KillGrace+time.Second) {
			w.log.Error("task handlers ignored cancellation; leaving them behind")
		}
	}

	// 4. Post the last results and log lines.
	w.rep.close()
	select {
	case <-repDone:
	case <-time.After(flushTimeout):
		w.log.Warn("could not post every result before leaving")
		stopRep()
		<-repDone
	}

	// 5. Stop heartbeats, so none races the deregistration into a 401
	// and a new registration; 6. deregister.
	stopHB()
	<-hbDone
	<-ctlDone
	s := w.session()
	dctx, cancel := context.WithTimeout(w.baseCtx, flushTimeout)
	defer cancel()
	if err := w.client.deregister(dctx, s.cred); err != nil {
		w.log.Warn("deregister failed; the server will expire our leases", "err", err)
	}
	w.log.Info("worker stopped", "worker_id", s.id)
	return nil
}

// waitFor waits for wg up to d; it reports whether wg was done in time.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// register registers (again), retrying with backoff until it succeeds or
// ctx is done. The first registration of Run gives up on answers that
// retrying cannot change; later ones never do, since tasks may be running.
func (w *Worker) register(ctx context.Context, first bool) error {
	bo := newBackoff()
	for {
		s := w.session()
		req := w.registerRequest(s)
		resp, err := w.client.register(ctx, w.cfg.Token, req)
		if err == nil {
			w.mu.Lock()
			if w.sess.id != "" && w.sess.id != resp.WorkerID {
				w.log.Warn("server gave a new worker id", "old", w.sess.id, "worker_id", resp.WorkerID)
			}
			w.sess = session{id: resp.WorkerID, cred: resp.Credential, gen: s.gen + 1}
			if d := resp.HeartbeatInterval.Duration(); d > 0 {
				w.interval = d
			}
			w.mu.Unlock()
			w.saveState()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if first && (permanent(err) || unauthorized(err)) {
			return fmt.Errorf("worker: register with %s: %w", w.cfg.Server, err)
		}
		w.log.Warn("register failed; will retry", "err", err)
		if !sleep(ctx, bo.next()) {
			return ctx.Err()
		}
	}
}

// reregister registers again after the server answered a call made with
// session generation gen by "who are you?". Concurrent callers that saw the
// same generation share one registration.
func (w *Worker) reregister(ctx context.Context, gen uint64) {
	w.regMu.Lock()
	defer w.regMu.Unlock()
	if w.session().gen != gen {
		return
	}
	w.log.Warn("server does not know this worker; registering again", "worker_id", w.ID())
	_ = w.register(ctx, false)
}

func (w *Worker) registerRequest(s session) *api.RegisterRequest {
	res := w.host.resources()
	info := w.host.detailedInfo()
	info.Battery = res.Battery
	return &api.RegisterRequest{
		Name:         w.cfg.Name,
		WorkerID:     s.id,
		Credential:   s.cred,
		Hostname:     w.host.hostname,
		Role:         w.cfg.Role,
		Platform:     w.host.platform,
		Resources:    res,
		DetailedInfo: info,
		Queues:       w.cfg.Queues,
		Labels:       w.cfg.Labels,
		TaskTypes:    w.taskTypes(),
		Concurrency:  w.cfg.Concurrency,
		PID:          os.Getpid(),
		Version:      w.version(),
		PoolID:       w.cfg.PoolID,
	}
}

// version is Config.Version, or the drover module's version in this
// binary, if known.
func (w *Worker) version() string {
	if w.cfg.Version != "" {
		return w.cfg.Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	const mod = "github.com/drover-run/drover"
	if bi.Main.Path == mod {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == mod {
			return d.Version
		}
	}
	return ""
}

// heartbeatLoop reports every interval, staggered ±10% so a fleet started
// together does not beat together (Nomad's RandomStagger). A failed beat is
// not retried early: the lease TTL allows several missed ones, and a fleet
// hammering a restarting server would only slow its return.
func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := time.NewTimer(w.nextBeat())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.heartbeat(ctx)
		t.Reset(w.nextBeat())
	}
}

// defaultInterval is used until the server names one.
const defaultInterval = 10 * time.Second

func (w *Worker) nextBeat() time.Duration {
	w.mu.Lock()
	d := w.interval
	w.mu.Unlock()
	if d <= 0 {
		d = defaultInterval
	}
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64())) // #nosec G404 -- jitter spreads load; it guards no secret
}

func (w *Worker) heartbeat(ctx context.Context) {
	s := w.session()
	req := api.HeartbeatRequest{Resources: w.host.resources(), Running: w.held()}
	resp, err := w.client.heartbeat(ctx, s.cred, &req)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if unauthorized(err) {
			w.reregister(ctx, s.gen)
			return
		}
		w.log.Warn("heartbeat failed", "err", err)
		return
	}
	if d := resp.HeartbeatInterval.Duration(); d > 0 {
		w.mu.Lock()
		w.interval = d
		w.mu.Unlock()
	}
	for _, o := range resp.Stop {
		w.stopTask(o)
	}
	if resp.Drain {
		w.beginDrain()
	}
}

// held lists every lease the worker holds: running tasks, then results not
// yet answered. A task moves from the first to the second under w.mu before
// leaving the first, so reading them in this order never misses it.
func (w *Worker) held() []api.Lease {
	w.mu.Lock()
	leases := make([]api.Lease, 0, len(w.runs))
	for _, r := range w.runs {
		leases = append(leases, r.lease)
	}
	w.mu.Unlock()
	leases = w.rep.held(leases)
	slices.SortFunc(leases, func(a, b api.Lease) int {
		if a.TaskID != b.TaskID {
			if a.TaskID < b.TaskID {
				return -1
			}
			return 1
		}
		return int(a.Epoch - b.Epoch)
	})
	return slices.Compact(leases)
}

// stopTask abandons a lease at the server's order: the task's processes are
// killed at once and no result is sent.
func (w *Worker) stopTask(o api.StopOrder) {
	w.mu.Lock()
	r := w.runs[o.TaskID]
	if r != nil && (o.Epoch == 0 || o.Epoch == r.lease.Epoch) && r.stop == "" {
		r.stop = o.Reason
		if r.stop == "" {
			r.stop = "stopped"
		}
		r.cancel(&stopError{reason: r.stop})
		w.log.Info("task stopped by server", "task_id", o.TaskID, "epoch", o.Epoch, "reason", o.Reason)
	}
	w.mu.Unlock()
	w.rep.drop(api.Lease{TaskID: o.TaskID, Epoch: o.Epoch})
}

// stopAll stops every running task; it returns how many.
func (w *Worker) stopAll(reason string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.runs {
		if r.stop == "" {
			r.stop = reason
			r.cancel(&stopError{reason: reason})
		}
	}
	return len(w.runs)
}

// beginDrain stops leasing for good.
func (w *Worker) beginDrain() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.draining {
		w.draining = true
		w.signalSlot()
	}
	w.checkDrained()
}

// checkDrained closes drained once draining leaves nothing running.
// w.mu must be held.
func (w *Worker) checkDrained() {
	if w.draining && len(w.runs) == 0 {
		select {
		case <-w.drained:
		default:
			close(w.drained)
		}
	}
}

func (w *Worker) signalSlot() {
	select {
	case w.slotFree <- struct{}{}:
	default:
	}
}

// leaseCooldown is how long a busy worker waits for more slots to free
// before asking for work, so that under load it leases in batches instead
// of one task per round trip (River's fetch cooldown). An idle worker has
// all its slots free and asks at once: latency on a quiet cluster is not
// affected.
const leaseCooldown = 2 * time.Millisecond

// awaitSlots blocks until a slot is free and returns how many are, or 0
// when the worker drains or ctx is done. With fewer than a quarter of the
// slots free it waits up to leaseCooldown for more.
func (w *Worker) awaitSlots(ctx context.Context) int {
	batch := max(1, w.cfg.Concurrency/4)
	var cooldown <-chan time.Time
	cooled := false
	for {
		w.mu.Lock()
		free, draining := w.cfg.Concurrency-len(w.runs), w.draining
		w.mu.Unlock()
		if draining {
			return 0
		}
		if free >= batch || (cooled && free > 0) {
			return free
		}
		if free > 0 && cooldown == nil {
			t := time.NewTimer(leaseCooldown)
			defer t.Stop()
			cooldown = t.C
		}
		select {
		case <-w.slotFree:
		case <-cooldown:
			cooled = true
		case <-ctx.Done():
			return 0
		}
	}
}

// leaseLoop keeps one long-poll outstanding whenever a slot is free.
func (w *Worker) leaseLoop(ctx context.Context) {
	bo := newBackoff()
	req := api.LeaseRequest{Wait: api.MillisOf(leaseWait)}
	for {
		n := w.awaitSlots(ctx)
		if n == 0 {
			return
		}
		s := w.session()
		req.Max = n
		began := time.Now()
		resp, err := w.client.lease(ctx, s.cred, &req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if unauthorized(err) {
				w.reregister(ctx, s.gen)
				continue
			}
			w.log.Warn("lease failed; will retry", "err", err)
			if !sleep(ctx, bo.next()) {
				return
			}
			continue
		}
		w.start(resp.Tasks)
		if resp.Drain {
			w.beginDrain()
		}
		// A server that answers "nothing" at once, ignoring wait_ms, must
		// not turn this loop into a tight one.
		if len(resp.Tasks) == 0 && time.Since(began) < 50*time.Millisecond {
			if !sleep(ctx, bo.next()) {
				return
			}
			continue
		}
		bo.reset()
	}
}

// start launches leased tasks, one goroutine each. They are recorded as
// running before their goroutines start, so the next heartbeat reports them.
func (w *Worker) start(tasks []api.LeasedTask) {
	if len(tasks) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range tasks {
		lt := &tasks[i]
		if old, dup := w.runs[lt.TaskID]; dup {
			// Only a confused server does this; the newer epoch wins.
			w.log.Warn("task leased twice; abandoning the older lease", "task_id", lt.TaskID,
				"epoch", old.lease.Epoch, "new_epoch", lt.Epoch)
			old.stop = "lease_lost"
			old.cancel(&stopError{reason: old.stop})
		}
		ctx, cancel := context.WithCancelCause(w.baseCtx)
		r := &run{lease: api.Lease{TaskID: lt.TaskID, Epoch: lt.Epoch}, cancel: cancel}
		w.runs[lt.TaskID] = r
		w.tasks.Add(1)
		go w.execute(ctx, r, lt)
	}
}

// execute runs one task and queues its result.
func (w *Worker) execute(ctx context.Context, r *run, lt *api.LeasedTask) {
	defer w.tasks.Done()
	t := &Task{
		ID:      lt.TaskID,
		Type:    lt.TaskType,
		Payload: lt.Payload,
		Attempt: lt.Attempt,
		Epoch:   lt.Epoch,
		Queue:   lt.Queue,
	}
	if lt.Timeout > 0 {
		t.Timeout = time.Duration(lt.Timeout) * time.Second
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t.Timeout, &timeoutError{t.Timeout})
		defer cancel()
	}
	log := newTaskLog(w.rep, t.ID, t.Epoch, "stdout")
	t.Log = log
	t.progress = func(f float64, msg string) { w.rep.setProgress(r.lease, f, msg) }

	h := w.handlers[t.Type]
	switch {
	case h != nil:
	case t.Type == "shell":
		h = shellRefused
	default:
		h = unknownType
	}
	res, err := invoke(ctx, h, t, w.log)
	log.Close()
	ar := resultOf(ctx, t, res, err)
	r.cancel(nil) // release the context's resources
	w.rep.endProgress(r.lease)

	w.mu.Lock()
	if r.stop == "" {
		w.rep.addResult(ar)
	}
	if w.runs[t.ID] == r {
		delete(w.runs, t.ID)
	}
	w.signalSlot()
	w.checkDrained()
	w.mu.Unlock()
}

// invoke calls h, turning a panic into a failure.
func invoke(ctx context.Context, h HandlerFunc, t *Task, log *slog.Logger) (res *api.TaskResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("task handler panicked", "task_id", t.ID, "task_type", t.Type, "panic", p, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, t)
}

// resultOf builds the attempt's report from what the handler returned.
func resultOf(ctx context.Context, t *Task, res *api.TaskResult, err error) api.AgentResult {
	ar := api.AgentResult{TaskID: t.ID, Epoch: t.Epoch, Status: "completed", ResourceUsage: t.usage}
	if res != nil {
		ar.Result = *res
	}
	var te *timeoutError
	if (err != nil || ar.Result.ExitCode != 0) && errors.As(context.Cause(ctx), &te) {
		err, ar.Result.ExitCode = te, exitTimeout
	}
	switch {
	case err != nil:
		ar.Status = "failed"
		ar.Result.Error = err.Error()
		if ar.Result.ExitCode == 0 {
			ar.Result.ExitCode = 1
		}
	case ar.Result.ExitCode != 0:
		ar.Status = "failed"
		if ar.Result.Error == "" {
			ar.Result.Error = fmt.Sprintf("exit code %d", ar.Result.ExitCode)
		}
	}
	return ar
}

// unknownType fails a task no handler exists for: the server should not
// have sent it, as the worker did not advertise the type.
func unknownType(_ context.Context, t *Task) (*api.TaskResult, error) {
	return nil, fmt.Errorf("INVALID_TASK_TYPE: this worker has no handler for task type %q", t.Type)
}
