package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // schedules name IANA zones; a host without zoneinfo still has them

	cron "github.com/netresearch/go-cron"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// The parser reads standard five-field expressions and descriptors
// (@daily, @every 5m). DowOrDom keeps the classic cron meaning of a day of
// month and a day of week both given (either matches). This parser also
// runs a job whose local time a spring-forward skips right after the gap.
var parser = cron.MustNewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor | cron.DowOrDom)

// Schedule is a parsed cron expression.
type Schedule interface {
	Next(time.Time) time.Time
}

// ParseSchedule parses a cron expression read in zone tz ("" is UTC).
func ParseSchedule(expr, tz string) (Schedule, *time.Location, error) {
	if expr == "" {
		return nil, nil, invalid("a timezone needs a schedule").With("field", "schedule")
	}
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return nil, nil, invalid("timezone %q is not an IANA time zone (e.g. Europe/Berlin)", tz).With("field", "timezone")
		}
		loc = l
	}
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, nil, invalid("schedule %q: %v", expr, err).With("field", "schedule")
	}
	if strings.HasPrefix(strings.TrimSpace(expr), "@every") {
		return s, loc, nil // an interval: every instant counts, whatever the wall clock says
	}
	return wallOnce{s}, loc, nil
}

// wallOnce runs a wall-clock schedule once per wall-clock time: when a
// fall-back repeats an hour, the second 01:30 is the same tick as the
// first and is passed over.
type wallOnce struct{ Schedule }

func (w wallOnce) Next(t time.Time) time.Time {
	n := w.Schedule.Next(t)
	for i := 0; i < 2 && !n.IsZero() && sameWall(n, t); i++ {
		n = w.Schedule.Next(n)
	}
	return n
}

func sameWall(a, b time.Time) bool {
	b = b.In(a.Location())
	return !a.Equal(b) && a.Year() == b.Year() && a.YearDay() == b.YearDay() &&
		a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}

// maxCatchUpScan bounds the ticks walked to find the latest missed one.
const maxCatchUpScan = 100000

// Fired is what FireDue did with one workflow's due tick.
type Fired struct {
	WorkflowID int64
	Tick       time.Time
	RunID      int64 // 0: skipped (overlap, too late) or fired by another server
	Skipped    string
	Missed     int // ticks passed over during downtime
}

// FireDue fires every scheduled workflow whose next tick is at or before
// now, and returns what it did and when the next tick is due (zero: none).
//
// Exactly once: each fire inserts the (workflow, tick) record, the run and
// the workflow's next tick in one transaction, conditional on the next tick
// the server read, so two servers (or a zombie leader) firing the same tick
// store one run. After downtime, only the latest missed tick fires, and
// only if it is within the catch-up window; the ticks passed over are
// counted and logged. With the skip overlap policy, a tick while a run of
// the workflow is still active is recorded as skipped.
func (e *Engine) FireDue(ctx context.Context, now time.Time) ([]Fired, time.Time, error) {
	var out []Fired
	for {
		ws, err := e.st.WorkflowList(ctx, &store.WorkflowListParams{DueBefore: now, Limit: 500})
		if err != nil {
			return out, time.Time{}, err
		}
		for _, w := range ws {
			f, err := e.fire(ctx, w, now)
			if err != nil {
				return out, time.Time{}, fmt.Errorf("workflow %d: %w", w.ID, err)
			}
			out = append(out, f)
		}
		if len(ws) < 500 {
			break
		}
	}
	next, err := e.st.WorkflowNextFire(ctx)
	return out, next, err
}

func (e *Engine) fire(ctx context.Context, w *domain.Workflow, now time.Time) (Fired, error) {
	f := Fired{WorkflowID: w.ID}
	sched, loc, err := ParseSchedule(w.Schedule, w.Timezone)
	if err != nil {
		return f, err
	}
	tick := w.NextFireAt
	next := sched.Next(tick.In(loc))
	for i := 0; !next.IsZero() && !next.After(now) && i < maxCatchUpScan; i++ {
		tick, next = next, sched.Next(next)
		f.Missed++
	}
	if !next.After(now) { // still behind after the scan: restart from now
		next = sched.Next(now.In(loc))
	}
	f.Tick = tick.UTC()
	fire := &store.CronFire{WorkflowID: w.ID, Tick: f.Tick, Expect: w.NextFireAt, Next: next.UTC()}
	var run *domain.Run
	switch {
	case now.Sub(tick) > e.catchUp:
		f.Skipped = "missed: later than the catch-up window"
	case w.Overlap != domain.OverlapAllow:
		active, err := e.st.RunList(ctx, &store.RunListParams{WorkflowID: w.ID, States: []domain.RunState{domain.RunWaiting, domain.RunRunning}, Limit: 1})
		if err != nil {
			return f, err
		}
		if len(active) > 0 {
			f.Skipped = fmt.Sprintf("overlap: run %d is still active", active[0].ID)
			break
		}
		fallthrough
	default:
		run = newRun(w, "cron", f.Tick)
	}
	err = e.st.RunInsert(ctx, &store.RunInsertParams{Run: run, Fire: fire})
	if errors.Is(err, domain.ErrConflict) {
		f.Skipped = "fired by another server"
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if f.Missed > 0 {
		e.log.Warn("cron ticks missed during downtime", "workflow_id", w.ID, "missed", f.Missed, "fired_tick", f.Tick)
	}
	if run != nil {
		f.RunID = run.ID
		e.log.Info("cron fired", "workflow_id", w.ID, "tick", f.Tick, "run_id", run.ID)
		e.Wake()
	} else {
		e.log.Info("cron tick skipped", "workflow_id", w.ID, "tick", f.Tick, "reason", f.Skipped)
	}
	return f, nil
}
