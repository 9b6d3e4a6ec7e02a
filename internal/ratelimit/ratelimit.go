// Package ratelimit counts requests per subject — an API key, a worker
// credential, or a client address when there is no key — in fixed windows,
// exactly, and holds the concurrent event streams each subject may keep
// open (document 001: reads 1000 and writes 100 per 15 minutes, 10
// streams).
//
// # Windows
//
// A subject's window opens with its first request of a class (read or
// write) and lasts Limits.Window; within it at most the limit is admitted,
// then every request is refused until the window ends (Reset), when the
// next request opens a new one. The count is kept under one mutex, so the
// limit is exact whatever the concurrency: with 100 write slots left and 64
// racers twice over, exactly 100 are admitted. Headers follow document 001
// and draft-ietf-httpapi-ratelimit-headers: X-RateLimit-Limit,
// X-RateLimit-Remaining, X-RateLimit-Reset (Unix seconds), and Retry-After
// (seconds) on a refusal.
//
// # Scope
//
// Counts live in the memory of one server: behind a load balancer over N
// servers a subject may get up to N times the limit. This is the documented
// scope (docs/security.md); a global limit would cost a database write per
// request.
//
// # Streams
//
// A handler that holds a long-lived answer (the SSE monitor stream) calls
// AcquireStream(r) on entry and the returned release when the stream ends,
// however it ends (a deferred call runs on a client's disconnect too, since
// the request's context is cancelled then).
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// Limits are a budget. Zero fields take the defaults of DefaultLimits when
// given to New, and the limiter's own when given as an override.
type Limits struct {
	Reads   int           // read requests (GET, HEAD, OPTIONS) per window
	Writes  int           // other requests per window
	Streams int           // concurrent streams
	Window  time.Duration // the counting window
}

// DefaultLimits are document 001's: reads 1000 and writes 100 per 15
// minutes, 10 concurrent streams.
func DefaultLimits() Limits {
	return Limits{Reads: 1000, Writes: 100, Streams: 10, Window: 15 * time.Minute}
}

// AgentLimits is the worker protocol's own budget,
// per worker credential: a worker heartbeats every few seconds, long-polls
// for leases and reports in batches, a few calls a second at most; 100,000
// per 15 minutes (over 100 a second) never throttles a healthy worker,
// however many there are, while bounding one that misbehaves.
func AgentLimits() Limits {
	return Limits{Reads: 100_000, Writes: 100_000, Streams: 10, Window: 15 * time.Minute}
}

// Or is l with its zero fields taken from d.
func (l Limits) Or(d Limits) Limits {
	if l.Reads <= 0 {
		l.Reads = d.Reads
	}
	if l.Writes <= 0 {
		l.Writes = d.Writes
	}
	if l.Streams <= 0 {
		l.Streams = d.Streams
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	return l
}

// Class is the kind of request a limit counts.
type Class int

// The classes.
const (
	Read Class = iota
	Write
)

// ClassOf is the class of a request by its method.
func ClassOf(r *http.Request) Class {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return Read
	}
	return Write
}

func (c Class) String() string {
	if c == Read {
		return "read"
	}
	return "write"
}

// Decision is the limiter's answer to one request.
type Decision struct {
	Allowed   bool
	Limit     int
	Remaining int
	Reset     time.Time     // when the current window ends
	Retry     time.Duration // on a refusal: how long until a request may pass
}

// SetHeaders writes the decision's X-RateLimit-* headers (and Retry-After
// on a refusal) to h.
func (d Decision) SetHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.Reset.Unix(), 10))
	if !d.Allowed {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Retry.Seconds()))))
	}
}

// ExceededError is a refusal: the subject spent its budget.
type ExceededError struct {
	Decision
	What string // "read requests", "write requests" or "streams"
}

func (e *ExceededError) Error() string {
	if e.What == "streams" {
		return fmt.Sprintf("rate limit exceeded: at most %d concurrent streams", e.Limit)
	}
	return fmt.Sprintf("rate limit exceeded: at most %d %s per window; retry in %ds", e.Limit, e.What,
		int(math.Ceil(e.Retry.Seconds())))
}

// Unwrap is the refusal as the API's RATE_LIMIT_EXCEEDED error, so that a
// handler may return it as it is.
func (e *ExceededError) Unwrap() error {
	return domain.Errorf(domain.CodeRateLimitExceeded, "%s", e.Error()).
		With("limit", e.Limit).With("reset", e.Reset.Unix()).With("retry_after", int(math.Ceil(e.Retry.Seconds())))
}

// Limiter counts requests and streams per subject. It is safe for
// concurrent use.
type Limiter struct {
	limits Limits
	now    func() time.Time

	mu        sync.Mutex
	windows   map[windowKey]*window
	streams   map[string]int
	nextSweep time.Time
}

type windowKey struct {
	subject string
	class   Class
}

type window struct {
	reset time.Time
	used  int
}

// New returns a limiter enforcing limits (zero fields: DefaultLimits). now
// is its clock; nil means time.Now.
func New(limits Limits, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		limits:  limits.Or(DefaultLimits()),
		now:     now,
		windows: map[windowKey]*window{},
		streams: map[string]int{},
	}
}

// Limits are the limiter's defaults.
func (l *Limiter) Limits() Limits { return l.limits }

// Allow counts one request of class for subject under the limiter's limits,
// overridden by the non-zero fields of override, and says whether it may
// proceed.
func (l *Limiter) Allow(subject string, class Class, override Limits) Decision {
	lim := override.Or(l.limits)
	max := lim.Reads
	if class == Write {
		max = lim.Writes
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	k := windowKey{subject, class}
	w := l.windows[k]
	if w == nil || !now.Before(w.reset) {
		w = &window{reset: now.Add(lim.Window)}
		l.windows[k] = w
	}
	d := Decision{Limit: max, Reset: w.reset}
	if w.used >= max {
		d.Retry = w.reset.Sub(now)
		return d
	}
	w.used++
	d.Allowed, d.Remaining = true, max-w.used
	return d
}

// sweep drops ended windows, at most once a minute; l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(time.Minute)
	for k, w := range l.windows {
		if !now.Before(w.reset) {
			delete(l.windows, k)
		}
	}
}

// Acquire takes one of subject's stream slots (max of them; 0 means the
// limiter's Streams). It returns release, which frees the slot and may be
// called any number of times, or an *ExceededError when every slot is held.
func (l *Limiter) Acquire(subject string, max int) (release func(), err error) {
	if max <= 0 {
		max = l.limits.Streams
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams[subject] >= max {
		return nil, &ExceededError{What: "streams", Decision: Decision{Limit: max, Reset: l.now(), Retry: time.Second}}
	}
	l.streams[subject]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.streams[subject]--; l.streams[subject] <= 0 {
				delete(l.streams, subject)
			}
		})
	}, nil
}

// Streams is how many streams subject holds.
func (l *Limiter) Streams(subject string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.streams[subject]
}

type ctxKey struct{}

type streamSlot struct {
	l       *Limiter
	subject string
	max     int
}

// WithSubject returns ctx carrying the limiter and subject that
// AcquireStream uses, with subject's stream cap (0: the limiter's). The
// middleware that counts a request calls it.
func WithSubject(ctx context.Context, l *Limiter, subject string, maxStreams int) context.Context {
	return context.WithValue(ctx, ctxKey{}, streamSlot{l, subject, maxStreams})
}

// AcquireStream takes a stream slot for the subject r was counted under
// and returns the function that frees it; call it when the stream ends:
//
//	release, err := ratelimit.AcquireStream(r)
//	if err != nil {
//		return err // an *ExceededError: answer 429
//	}
//	defer release()
//
// A request no limiter counted (rate limiting off) gets a slot always.
func AcquireStream(r *http.Request) (release func(), err error) {
	s, ok := r.Context().Value(ctxKey{}).(streamSlot)
	if !ok {
		return func() {}, nil
	}
	return s.l.Acquire(s.subject, s.max)
}
