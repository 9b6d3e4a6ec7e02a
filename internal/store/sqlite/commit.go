package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// txFunc is one write call's work inside a transaction. It must touch nothing
// outside tx but its own variables: it may be rolled back to its savepoint
// while the rest of the transaction commits.
type txFunc func(ctx context.Context, tx *sql.Tx) error

// writeRequest is a txFunc waiting for the committer, and where its outcome goes.
type writeRequest struct {
	ctx    context.Context
	fn     txFunc
	done   chan error // buffered: the committer never blocks on a caller
	urgent bool       // goes ahead of the queue (doFirst)
}

// errClosed answers writes that arrive after Close.
var errClosed = errors.New("sqlite: store is closed")

// committer owns the writer connection and implements group commit: it runs
// every request waiting when a transaction starts in that one transaction.
//
// Invariants: only the committer's goroutine touches the writer connection
// once started; a request is answered exactly once, and only after the
// transaction holding its writes has committed (or with the error that
// prevented it).
type committer struct {
	db       *sql.DB
	maxBatch int
	requests chan *writeRequest
	urgent   chan *writeRequest // taken before requests: see doFirst

	mu      sync.RWMutex // held for reading while sending on requests, for writing by stop
	closed  bool
	stopped chan struct{}
}

func startCommitter(db *sql.DB, maxBatch int) *committer {
	c := &committer{
		db:       db,
		maxBatch: maxBatch,
		requests: make(chan *writeRequest, maxBatch),
		urgent:   make(chan *writeRequest, 8),
		stopped:  make(chan struct{}),
	}
	go c.run()
	return c
}

// do runs fn in a write transaction and returns once that transaction has
// committed or failed. Once queued, it waits for the committer's answer
// even if ctx ends: fn writes into its caller's variables, so returning
// while it may still run would be a data race. A request whose ctx has
// ended before it starts is skipped; once started, it runs to its end (see
// runRequest).
func (c *committer) do(ctx context.Context, fn txFunc) error {
	r := &writeRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := c.enqueue(ctx, r); err != nil {
		return err
	}
	return <-r.done
}

// doFirst is do for a request that must not wait behind the queue: the
// heartbeats of the whole fleet, batched into one request (dispatch
// coalesces them), which renew leases and keep workers online. Thousands
// of lease polls queued at once must not hold them back until leases
// expire. The transaction that takes it may hold other requests too.
func (c *committer) doFirst(ctx context.Context, fn txFunc) error {
	r := &writeRequest{ctx: ctx, fn: fn, done: make(chan error, 1), urgent: true}
	if err := c.enqueue(ctx, r); err != nil {
		return err
	}
	return <-r.done
}

func (c *committer) enqueue(ctx context.Context, r *writeRequest) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errClosed
	}
	queue := c.requests
	if r.urgent {
		queue = c.urgent
	}
	select {
	case queue <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop refuses new requests, lets the queued ones commit and waits for the
// committer to exit.
func (c *committer) stop() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.requests)
		close(c.urgent)
	}
	c.mu.Unlock()
	<-c.stopped
}

func (c *committer) run() {
	defer close(c.stopped)
	batch := make([]*writeRequest, 0, c.maxBatch)
	for {
		first, ok := c.next()
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		batch = c.gather(batch)
		c.commit(batch)
		clear(batch) // let answered requests be collected
	}
}

// next waits for a request, an urgent one first; it reports false once
// both queues are closed and empty.
func (c *committer) next() (*writeRequest, bool) {
	select {
	case r, ok := <-c.urgent:
		if ok {
			return r, true
		}
	default:
	}
	select {
	case r, ok := <-c.urgent:
		if ok {
			return r, true
		}
		r, ok = <-c.requests // closed: stopping, take what is left
		return r, ok
	case r, ok := <-c.requests:
		if ok {
			return r, true
		}
		r, ok = <-c.urgent // closed: stopping, take what is left
		return r, ok
	}
}

// gather appends the requests already waiting, urgent ones first, up to
// maxBatch, without waiting for more: a lone request commits at once.
func (c *committer) gather(batch []*writeRequest) []*writeRequest {
	for len(batch) < c.maxBatch {
		select {
		case r, ok := <-c.urgent:
			if ok {
				batch = append(batch, r)
				continue
			}
		default:
		}
		select {
		case r, ok := <-c.requests:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit runs batch in one transaction and answers every request.
func (c *committer) commit(batch []*writeRequest) {
	errs := make([]error, len(batch))
	tx, err := c.db.BeginTx(context.Background(), nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		answerAll(batch, errs, fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	if len(batch) == 1 {
		// Alone, the request needs no savepoint: its failure is the transaction's.
		errs[0] = runRequest(tx, batch[0])
		if errs[0] != nil {
			_ = tx.Rollback()
			answerAll(batch, errs, nil)
			return
		}
	} else {
		for i, r := range batch {
			if errs[i] = runInSavepoint(tx, r); isConnBroken(errs[i]) {
				_ = tx.Rollback()
				answerAll(batch, errs, errs[i])
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		answerAll(batch, errs, fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	answerAll(batch, errs, nil)
}

// runRequest runs r's work, unless its caller has already given up. Once
// started, the work no longer hears of its caller's cancellation: a
// cancelled statement interrupts the connection (sqlite3_interrupt), and an
// interrupted write rolls back the whole transaction, which it shares with
// every other request of the batch. One client hanging up mid-write would
// fail everyone's writes. A request's statements are short; the caller
// waits for them either way (do).
func runRequest(tx *sql.Tx, r *writeRequest) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	return r.fn(context.WithoutCancel(r.ctx), tx)
}

// runInSavepoint runs r so that its failure undoes only its own writes.
func runInSavepoint(tx *sql.Tx, r *writeRequest) error {
	ctx := context.Background() // savepoint bookkeeping must run even if r.ctx is done
	if _, err := tx.ExecContext(ctx, "SAVEPOINT request"); err != nil {
		return errConnBroken{err}
	}
	err := runRequest(tx, r)
	if err != nil {
		if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO request"); rbErr != nil {
			return errConnBroken{rbErr}
		}
	}
	if _, relErr := tx.ExecContext(ctx, "RELEASE request"); relErr != nil {
		return errConnBroken{relErr}
	}
	return err
}

// errConnBroken marks a failure of the transaction itself, not of one
// request: the whole batch fails with it.
type errConnBroken struct{ err error }

func (e errConnBroken) Error() string { return "sqlite: savepoint: " + e.err.Error() }
func (e errConnBroken) Unwrap() error { return e.err }

func isConnBroken(err error) bool {
	var b errConnBroken
	return errors.As(err, &b)
}

// answerAll gives each request its own error, or batchErr when the
// transaction as a whole failed.
func answerAll(batch []*writeRequest, errs []error, batchErr error) {
	for i, r := range batch {
		err := errs[i]
		if batchErr != nil && err == nil {
			err = batchErr
		}
		r.done <- err
	}
}
