package dispatch

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Progress rules: what a running task may report of how far it got.
const (
	// ProgressInterval is the time one report of a task costs: a task may
	// report once per interval on average, with bursts of two, so a chatty
	// task cannot flood the store or the event log. Reports beyond that are
	// throttled, not stored; a worker keeps only its latest report and
	// sends it later (the Go worker sends at most one a second per task,
	// plus its attempt's last report at once).
	ProgressInterval = 500 * time.Millisecond
	// MaxProgressMessage bounds a report's message, in bytes; longer ones
	// are cut at a character boundary.
	MaxProgressMessage = 200
	// maxThrottled bounds the limiter's memory: past it, the buckets that
	// are full again (which limit nothing any more) are swept.
	maxThrottled = 10_000
)

// ProgressOutcome is what became of one progress report.
type ProgressOutcome string

// The outcomes of a report.
const (
	ProgressKept      ProgressOutcome = "kept"
	ProgressStale     ProgressOutcome = "stale_lease" // not running under this worker and epoch: dropped
	ProgressThrottled ProgressOutcome = "throttled"   // over the task's rate (ProgressInterval): send the latest later
)

// ProgressReport is a stored report and the worker that made it, as the
// TaskProgress hook sees it.
type ProgressReport struct {
	WorkerID string
	domain.Progress
}

// CheckProgress validates one report and normalises its message: one line
// of printable text of at most MaxProgressMessage bytes.
func CheckProgress(p *domain.Progress) error {
	if p.TaskID == "" || p.Epoch <= 0 {
		return domain.Errorf(domain.CodeValidation, "a progress report names its task_id and lease epoch").With("field", "task_id")
	}
	if math.IsNaN(p.Fraction) || p.Fraction < 0 || p.Fraction > 1 {
		return domain.Errorf(domain.CodeValidation, "progress fraction %v is not between 0 and 1", p.Fraction).With("field", "fraction")
	}
	p.Message = progressMessage(p.Message)
	return nil
}

// progressMessage is msg on one line, without control characters, cut to
// MaxProgressMessage bytes on a character boundary.
func progressMessage(msg string) string {
	msg = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, strings.TrimSpace(msg))
	if len(msg) <= MaxProgressMessage {
		return msg
	}
	cut := MaxProgressMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// ReportProgress stores progress reports from worker workerID. Each is
// fenced by its lease in the store's transaction, as log lines are, and
// throttled per task (ProgressInterval). Outcomes are in input order.
func (s *Service) ReportProgress(ctx context.Context, workerID string, reports []domain.Progress) ([]ProgressOutcome, error) {
	for i := range reports {
		if err := CheckProgress(&reports[i]); err != nil {
			return nil, err
		}
	}
	out := make([]ProgressOutcome, len(reports))
	var (
		send []domain.Progress
		idx  []int
	)
	now := s.now()
	for i, r := range reports {
		if !s.progress.allow(r.TaskID, now) {
			out[i] = ProgressThrottled
			continue
		}
		send, idx = append(send, r), append(idx, i)
	}
	if len(send) == 0 {
		return out, nil
	}
	turn := s.order.begin()
	defer turn.end()
	kept, err := s.store.TaskProgressSet(ctx, &store.TaskProgressSetParams{WorkerID: workerID, Reports: send, Now: s.storeNow()})
	if err != nil {
		s.progress.forget(send)
		return nil, err
	}
	for j, ok := range kept {
		if !ok {
			out[idx[j]] = ProgressStale
			continue
		}
		out[idx[j]] = ProgressKept
		later(turn, s.hooks.TaskProgress, &ProgressReport{WorkerID: workerID, Progress: send[j]})
	}
	return out, nil
}

// TaskProgress is the progress of t's current attempt: its last report, if
// the attempt running (or last run) made one. A task waiting for another
// attempt has none.
func (s *Service) TaskProgress(ctx context.Context, t *domain.Task) (*domain.Progress, error) {
	if t.State == domain.TaskPending || t.LeaseEpoch == 0 {
		return nil, nil
	}
	p, err := s.store.TaskProgressGet(ctx, t.ID)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && p.Epoch != t.LeaseEpoch) {
		return nil, nil
	}
	return p, err
}

// progressLimiter is a token bucket per task: a report costs a token, one
// comes back every ProgressInterval, and a bucket holds progressBurst, so a
// worker that reports once a second can always add its attempt's last
// report right before the result. It is per server: behind a load
// balancer a task may report at this rate to each server it reaches,
// which still bounds it.
type progressLimiter struct {
	mu   sync.Mutex
	last map[string]progressBucket
}

type progressBucket struct {
	tokens float64
	at     time.Time
}

// progressBurst is how many reports a task may make back to back.
const progressBurst = 2

func (l *progressLimiter) allow(taskID string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]progressBucket{}
	}
	b, ok := l.last[taskID]
	if !ok {
		if len(l.last) >= maxThrottled {
			for id, b := range l.last {
				if refill(b, now) >= progressBurst {
					delete(l.last, id) // full again: it limits nothing
				}
			}
		}
		b.tokens = progressBurst
	} else {
		b.tokens = refill(b, now)
	}
	b.at = now
	if b.tokens < 1 {
		l.last[taskID] = b
		return false
	}
	b.tokens--
	l.last[taskID] = b
	return true
}

// refill is b's tokens at now.
func refill(b progressBucket, now time.Time) float64 {
	return min(progressBurst, b.tokens+float64(now.Sub(b.at))/float64(ProgressInterval))
}

// forget un-throttles reports that were never stored (the store failed),
// so the worker's retry is not refused for them.
func (l *progressLimiter) forget(reports []domain.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range reports {
		delete(l.last, r.TaskID)
	}
}
