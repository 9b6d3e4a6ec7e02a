package ratelimit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time       { return t0.Add(time.Duration(c.ns.Load())) }
func (c *fakeClock) step(d time.Duration) { c.ns.Add(int64(d)) }

// TestReadsExactSequence is S6's read case: 1000 admitted with Remaining
// 999…0, the 1001st refused with Retry-After and Reset, admitted again
// after the reset.
func TestReadsExactSequence(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	l := New(Limits{}, clk.now)
	reset := t0.Add(15 * time.Minute)
	for i := range 1000 {
		d := l.Allow("k", Read, Limits{})
		if !d.Allowed || d.Remaining != 999-i || d.Limit != 1000 || !d.Reset.Equal(reset) {
			t.Fatalf("read #%d: %+v, want allowed, remaining %d, reset %v", i+1, d, 999-i, reset)
		}
		clk.step(time.Millisecond)
	}
	d := l.Allow("k", Read, Limits{})
	if d.Allowed {
		t.Fatalf("read #1001 allowed")
	}
	h := http.Header{}
	d.SetHeaders(h)
	want := map[string]string{
		"X-Ratelimit-Limit": "1000", "X-Ratelimit-Remaining": "0",
		"X-Ratelimit-Reset": strconv.FormatInt(reset.Unix(), 10), "Retry-After": "899",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if d := l.Allow("other", Read, Limits{}); !d.Allowed {
		t.Errorf("another subject was refused: budgets must be per subject")
	}
	if d := l.Allow("k", Write, Limits{}); !d.Allowed || d.Limit != 100 {
		t.Errorf("a write after the reads were spent: %+v, want allowed out of 100", d)
	}
	clk.step(reset.Sub(clk.now()))
	if d := l.Allow("k", Read, Limits{}); !d.Allowed || d.Remaining != 999 {
		t.Errorf("after the reset: %+v, want allowed with 999 left", d)
	}
}

// TestWritesExactUnderConcurrency is S6's write case: 64 goroutines race
// for 100 slots, twice over; exactly 100 win.
func TestWritesExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	l := New(Limits{}, (&fakeClock{}).now)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 4 {
				if l.Allow("k", Write, Limits{}).Allowed {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Errorf("%d of 256 racing writes admitted, want exactly 100", ok.Load())
	}
}

func TestOverride(t *testing.T) {
	t.Parallel()
	l := New(Limits{}, (&fakeClock{}).now)
	for i := range 3 {
		if d := l.Allow("k", Write, Limits{Writes: 3}); !d.Allowed || d.Limit != 3 {
			t.Fatalf("write #%d under a per-key limit of 3: %+v", i+1, d)
		}
	}
	if l.Allow("k", Write, Limits{Writes: 3}).Allowed {
		t.Errorf("write #4 under a per-key limit of 3 allowed")
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	l := New(Limits{}, (&fakeClock{}).now)
	var releases []func()
	for i := range 10 {
		rel, err := l.Acquire("k", 0)
		if err != nil {
			t.Fatalf("stream #%d: %v", i+1, err)
		}
		releases = append(releases, rel)
	}
	_, err := l.Acquire("k", 0)
	var x *ExceededError
	if !errors.As(err, &x) || domain.CodeOf(err) != domain.CodeRateLimitExceeded {
		t.Fatalf("stream #11: error = %v, want an ExceededError that is RATE_LIMIT_EXCEEDED", err)
	}
	releases[0]()
	releases[0]() // twice: frees one slot only
	if _, err := l.Acquire("k", 0); err != nil {
		t.Errorf("after a release: %v", err)
	}
	if _, err := l.Acquire("k", 0); err == nil {
		t.Errorf("a double release freed two slots")
	}
	if n := l.Streams("k"); n != 10 {
		t.Errorf("Streams() = %d, want 10", n)
	}
}

func TestAcquireStreamFromRequest(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/api/v1/monitor/stream", nil)
	rel, err := AcquireStream(r)
	if err != nil {
		t.Fatalf("without a limiter: %v", err)
	}
	rel()
	l := New(Limits{Streams: 1}, nil)
	r = r.WithContext(WithSubject(r.Context(), l, "addr:1.2.3.4", 0))
	rel, err = AcquireStream(r)
	if err != nil {
		t.Fatalf("first stream: %v", err)
	}
	if _, err := AcquireStream(r); err == nil {
		t.Errorf("second stream over a cap of 1 admitted")
	}
	rel()
	if l.Streams("addr:1.2.3.4") != 0 {
		t.Errorf("slot not freed")
	}
}

func TestSweepForgetsEndedWindows(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	l := New(Limits{}, clk.now)
	for i := range 100 {
		l.Allow(strconv.Itoa(i), Read, Limits{})
	}
	clk.step(16 * time.Minute)
	l.Allow("x", Read, Limits{})
	l.mu.Lock()
	n := len(l.windows)
	l.mu.Unlock()
	if n != 1 {
		t.Errorf("%d windows kept after they all ended, want 1", n)
	}
}
