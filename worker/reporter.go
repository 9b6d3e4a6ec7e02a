package worker

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
)

// Batch limits. A post stays well under the server's body cap (1 MiB by
// default) while carrying enough to amortise the round trip.
const (
	maxBatchItems  = 1000
	maxBatchBytes  = 512 << 10
	maxPendingLogs = 20000           // beyond this, lines are dropped and counted
	shrunkOutput   = 64 << 10        // a result's output when alone it is too large
	flushTimeout   = 5 * time.Second // how long shutdown waits for a last post
)

// reporter holds log lines and results until the flusher posts them.
//
// Invariant: a task's log lines are posted before its result, so a client
// that follows a log until the task ends misses no line. Each result records
// how many lines had been added when it was; it is taken only once as many
// have been taken.
type reporter struct {
	w    *Worker
	wake chan struct{} // cap 1: something to post
	done chan struct{} // closed by close: post what is left and return

	mu         sync.Mutex
	logs       []api.AgentLogLine
	results    []pendingResult
	inflight   []api.AgentResult // the results of the post in flight
	logsAdded  uint64
	logsTaken  uint64
	logsLost   int // dropped because the queue was full, not yet reported
	maxResults int // lowered when the server finds our posts too large
	closed     bool

	// progress holds each running lease's latest unsent report;
	// progressSent when each lease's last report was posted.
	progress      map[api.Lease]api.AgentProgress
	progressSent  map[api.Lease]time.Time
	progressEnded map[api.Lease]bool // attempts over whose last report waits
	progressTimer *time.Timer        // pokes the flusher when a held report is due

	// Reused by the flusher only.
	logBuf []api.AgentLogLine
	resBuf []api.AgentResult
}

type pendingResult struct {
	api.AgentResult
	afterLogs uint64 // logsAdded when the result was added
}

func newReporter(w *Worker) *reporter {
	return &reporter{
		w:          w,
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		maxResults: maxBatchItems,
	}
}

func (r *reporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// logLine queues one log line. It implements lineSink.
func (r *reporter) logLine(taskID string, epoch int64, stream, msg string) {
	now := time.Now()
	r.mu.Lock()
	if len(r.logs) >= maxPendingLogs {
		// The server is unreachable or a task floods its log: keep memory
		// bounded and say so later, rather than block the task.
		r.logsLost++
		r.mu.Unlock()
		return
	}
	r.logs = append(r.logs, api.AgentLogLine{TaskID: taskID, Epoch: epoch, Time: now, Stream: stream, Message: msg})
	r.logsAdded++
	r.mu.Unlock()
	r.poke()
}

// addResult queues a finished attempt. Its lease counts as held until the
// server has answered the post that carries it.
func (r *reporter) addResult(res api.AgentResult) {
	r.mu.Lock()
	r.results = append(r.results, pendingResult{AgentResult: res, afterLogs: r.logsAdded})
	r.mu.Unlock()
	r.poke()
}

// drop forgets a queued result whose lease the server has stopped.
func (r *reporter) drop(l api.Lease) {
	r.mu.Lock()
	r.results = slices.DeleteFunc(r.results, func(p pendingResult) bool {
		return p.TaskID == l.TaskID && p.Epoch == l.Epoch
	})
	r.mu.Unlock()
}

// held appends the leases of results not yet answered to dst.
func (r *reporter) held(dst []api.Lease) []api.Lease {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.results {
		dst = append(dst, api.Lease{TaskID: p.TaskID, Epoch: p.Epoch})
	}
	for _, p := range r.inflight {
		dst = append(dst, api.Lease{TaskID: p.TaskID, Epoch: p.Epoch})
	}
	return dst
}

// close asks the flusher to post what is left and return.
func (r *reporter) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	r.mu.Unlock()
}

// run is the flusher: it posts whenever there is something to post and no
// post is in flight, so batches grow with load and never wait on a timer.
func (r *reporter) run(ctx context.Context) {
	bo := newBackoff()
	for {
		select {
		case <-r.wake:
		case <-r.done:
		case <-ctx.Done():
			return
		}
		for {
			n, err := r.flushOnce(ctx)
			if err != nil {
				if ctx.Err() != nil || !sleep(ctx, bo.next()) {
					return
				}
				continue
			}
			bo.reset()
			if n == 0 {
				break
			}
		}
		select {
		case <-r.done:
			return
		default:
		}
	}
}

// flushOnce posts one batch of logs and one of results; it returns how many
// items it posted.
func (r *reporter) flushOnce(ctx context.Context) (int, error) {
	logs, results, lost := r.take()
	progress := r.takeProgress()
	if len(logs) == 0 && len(results) == 0 && len(progress) == 0 {
		if lost > 0 {
			r.w.log.Warn("task log lines dropped: too many waiting to be sent", "lines", lost)
		}
		return 0, nil
	}
	s := r.w.session()
	if len(logs) > 0 {
		err := r.w.client.logs(ctx, s.cred, &api.LogBatch{Lines: logs})
		if err != nil && !permanent(err) {
			r.putBack(logs, results)
			r.progressRetry(progress)
			r.failed(ctx, s, "post logs", err)
			return 0, err
		}
		if err != nil {
			// The server refused these lines for good; resending cannot
			// help, and holding them would stall every result behind them.
			r.w.log.Error("server refused task log lines; dropping them", "lines", len(logs), "err", err)
		}
	}
	// Progress after the lines it follows, before any result, which
	// would end its lease.
	if len(progress) > 0 {
		resp, err := r.w.client.progress(ctx, s.cred, &api.ProgressBatch{Reports: progress})
		switch {
		case err == nil:
			r.progressAnswered(progress, resp)
		case permanent(err):
			// An older server without the call, or a report it refused:
			// progress is advisory, so it is dropped, not retried.
			r.w.log.Debug("server refused progress reports; dropping them", "reports", len(progress), "err", err)
		default:
			r.putBack(nil, results)
			r.progressRetry(progress)
			r.failed(ctx, s, "post progress", err)
			return 0, err
		}
	}
	if len(results) == 0 {
		return len(logs) + len(progress), nil
	}
	resp, err := r.w.client.results(ctx, s.cred, &api.ResultBatch{Results: results})
	switch {
	case err == nil:
	case tooLarge(err):
		r.shrink(results)
		return 0, nil
	case permanent(err):
		r.w.log.Error("server refused results; dropping them", "results", len(results), "err", err)
	default:
		r.putBack(nil, results)
		r.failed(ctx, s, "post results", err)
		return 0, err
	}
	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	if resp != nil {
		for _, o := range resp.Outcomes {
			if !o.Accepted {
				// STALE_LEASE: the task is someone else's now, or was
				// cancelled. Nothing to do but forget it.
				r.w.log.Info("result refused", "task_id", o.TaskID, "epoch", o.Epoch, "code", o.Code)
			}
		}
	}
	return len(logs) + len(progress) + len(results), nil
}

func (r *reporter) failed(ctx context.Context, s session, what string, err error) {
	if unauthorized(err) {
		r.w.reregister(ctx, s.gen)
		return
	}
	r.w.log.Warn("cannot reach server; will retry", "call", what, "err", err)
}

// take moves the next batch of logs and results into the flusher's buffers.
func (r *reporter) take() (logs []api.AgentLogLine, results []api.AgentResult, lost int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lost, r.logsLost = r.logsLost, 0

	n, size := 0, 0
	for n < len(r.logs) && n < maxBatchItems && size < maxBatchBytes {
		size += len(r.logs[n].Message) + 128
		n++
	}
	r.logBuf = append(r.logBuf[:0], r.logs[:n]...)
	r.logs = shiftFront(r.logs, n)
	r.logsTaken += uint64(n)

	n, size = 0, 0
	for n < len(r.results) && n < r.maxResults && r.results[n].afterLogs <= r.logsTaken {
		res := &r.results[n].Result
		size += len(res.Output) + len(res.Error) + len(res.Data) + 256
		if n > 0 && size > maxBatchBytes {
			break
		}
		n++
	}
	r.resBuf = r.resBuf[:0]
	for _, p := range r.results[:n] {
		r.resBuf = append(r.resBuf, p.AgentResult)
	}
	r.results = shiftFront(r.results, n)
	r.inflight = r.resBuf
	return r.logBuf, r.resBuf, lost
}

// putBack returns a failed batch to the front of the queues.
func (r *reporter) putBack(logs []api.AgentLogLine, results []api.AgentResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = slices.Insert(r.logs, 0, logs...)
	r.logsTaken -= uint64(len(logs))
	back := make([]pendingResult, len(results))
	for i, res := range results {
		back[i] = pendingResult{AgentResult: res} // afterLogs 0: its lines went first
	}
	r.results = slices.Insert(r.results, 0, back...)
	r.inflight = nil
}

// shrink handles a 413: a batch is split by lowering the batch size; a lone
// result keeps only the tail of its output, which is what matters most.
func (r *reporter) shrink(results []api.AgentResult) {
	if len(results) > 1 {
		r.mu.Lock()
		r.maxResults = max(1, len(results)/2)
		r.mu.Unlock()
		r.w.log.Warn("server refused a result batch as too large; sending smaller batches", "batch", len(results))
		r.putBack(nil, results)
		return
	}
	res := results[0]
	out := res.Result.Output
	if len(out) <= shrunkOutput && len(res.Result.Data) == 0 {
		r.w.log.Error("server refused a result as too large; dropping it", "task_id", res.TaskID)
		r.mu.Lock()
		r.inflight = nil
		r.mu.Unlock()
		return
	}
	if len(out) > shrunkOutput {
		res.Result.Output = truncatedNote(len(out)-shrunkOutput) + out[len(out)-shrunkOutput:]
	}
	res.Result.Data = nil
	r.putBack(nil, []api.AgentResult{res})
}

// shiftFront drops the first n elements of s in place, clearing the vacated
// tail so the backing array does not pin old payloads.
func shiftFront[T any](s []T, n int) []T {
	if n == 0 {
		return s
	}
	m := copy(s, s[n:])
	clear(s[m:])
	return s[:m]
}

var _ lineSink = (*reporter)(nil)
