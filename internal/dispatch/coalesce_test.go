package dispatch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// batchRecorder is a coalescer's run function that records its batches and
// holds each until released, answering q*10 (or fail, for every call).
type batchRecorder struct {
	mu      sync.Mutex
	batches [][]int
	release chan struct{}
	fail    error
}

func (b *batchRecorder) run(ctx context.Context, qs []int) ([]int, error) {
	b.mu.Lock()
	b.batches = append(b.batches, slices.Clone(qs))
	b.mu.Unlock()
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if b.fail != nil {
		return nil, b.fail
	}
	out := make([]int, len(qs))
	for i, q := range qs {
		out[i] = q * 10
	}
	return out, nil
}

func (b *batchRecorder) got() [][]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.batches)
}

type answer struct {
	r   int
	err error
}

// start calls c.do(ctx, q) in a goroutine; its answer arrives on the channel.
func start(ctx context.Context, c *coalescer[int, int], q int) chan answer {
	ch := make(chan answer, 1)
	go func() {
		r, err := c.do(ctx, q)
		ch <- answer{r, err}
	}()
	return ch
}

// The calls arriving while a batch runs go together as the next one, each
// answered with its own result, only after its batch ran.
func TestCoalescerBatchesCallsArrivingDuringARun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &batchRecorder{release: make(chan struct{})}
		c := newCoalescer(3, time.Minute, rec.run)
		ctx := context.Background()
		first := start(ctx, c, 1)
		synctest.Wait() // the first call runs alone
		var rest []chan answer
		for q := 2; q <= 6; q++ {
			rest = append(rest, start(ctx, c, q))
			synctest.Wait() // in order
		}
		if got := rec.got(); !slices.EqualFunc(got, [][]int{{1}}, slices.Equal) {
			t.Fatalf("batches while the first runs = %v, want [[1]]", got)
		}
		select {
		case a := <-rest[0]:
			t.Fatalf("call 2 answered %v before its batch ran", a)
		default:
		}
		for range 3 {
			rec.release <- struct{}{}
			synctest.Wait()
		}
		want := [][]int{{1}, {2, 3, 4}, {5, 6}} // at most 3 a batch
		if got := rec.got(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("batches = %v, want %v", got, want)
		}
		for i, ch := range append([]chan answer{first}, rest...) {
			if a := <-ch; a.err != nil || a.r != (i+1)*10 {
				t.Errorf("do(%d) = %d, %v; want %d", i+1, a.r, a.err, (i+1)*10)
			}
		}
		if c.running || len(c.queue) != 0 {
			t.Errorf("after the last batch: running %v, %d queued; want idle", c.running, len(c.queue))
		}
	})
}

// A batch's failure is the answer of every call in it, and of no other.
func TestCoalescerBatchErrorGoesToItsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		broken := errors.New("disk on fire")
		rec := &batchRecorder{release: make(chan struct{}), fail: broken}
		c := newCoalescer(10, time.Minute, rec.run)
		ctx := context.Background()
		first := start(ctx, c, 1)
		synctest.Wait()
		second, third := start(ctx, c, 2), start(ctx, c, 3)
		synctest.Wait()
		rec.release <- struct{}{} // the first batch fails
		synctest.Wait()
		rec.mu.Lock()
		rec.fail = nil
		rec.mu.Unlock()
		rec.release <- struct{}{}
		if a := <-first; !errors.Is(a.err, broken) {
			t.Errorf("do(1) error = %v, want %v", a.err, broken)
		}
		for q, ch := range map[int]chan answer{2: second, 3: third} {
			if a := <-ch; a.err != nil || a.r != q*10 {
				t.Errorf("do(%d) = %d, %v; want %d", q, a.r, a.err, q*10)
			}
		}
	})
}

// A caller that gives up while waiting for a batch leaves without being
// run; one whose batch has started waits for it; a stuck batch ends at the
// timeout.
func TestCoalescerCallerGivingUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &batchRecorder{release: make(chan struct{})}
		c := newCoalescer(10, time.Minute, rec.run)
		runCtx, cancelRunning := context.WithCancel(context.Background())
		running := start(runCtx, c, 1)
		synctest.Wait()
		waitCtx, cancelWaiting := context.WithCancel(context.Background())
		waiting := start(waitCtx, c, 2)
		stays := start(context.Background(), c, 3)
		synctest.Wait()
		cancelWaiting()
		if a := <-waiting; !errors.Is(a.err, context.Canceled) {
			t.Errorf("do(2) after its caller gave up = %d, %v; want context.Canceled", a.r, a.err)
		}
		cancelRunning() // its batch has started: it waits for it
		synctest.Wait()
		select {
		case a := <-running:
			t.Fatalf("do(1) answered %v before its batch ended", a)
		default:
		}
		rec.release <- struct{}{}
		if a := <-running; a.err != nil || a.r != 10 {
			t.Errorf("do(1) = %d, %v; want 10", a.r, a.err)
		}
		time.Sleep(2 * time.Minute) // synctest's clock: the second batch is stuck past its timeout
		if a := <-stays; !errors.Is(a.err, context.DeadlineExceeded) {
			t.Errorf("do(3) of a stuck batch = %d, %v; want context.DeadlineExceeded", a.r, a.err)
		}
		if got, want := rec.got(), [][]int{{1}, {3}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("batches = %v, want %v (the call given up never runs)", got, want)
		}
	})
}
