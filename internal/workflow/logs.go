package workflow

import (
	"context"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// MaxLogPage is the most lines one page of a run's log holds (document 002).
const MaxLogPage = 100

// LogQuery selects a page of a run's or an action's log.
type LogQuery struct {
	RunID    int64 // 0 with ActionID set: the action's run
	ActionID int64 // 0: every action of the run, in action order
	Cursor   int   // lines already read (of the filtered log); 0 from the start
	Limit    int   // 1..MaxLogPage; 0 means MaxLogPage
	Level    string
}

// LogLine is one line of a run's log.
type LogLine struct {
	ActionID int64
	Step     string
	domain.LogLine
}

// LogPage is one page and where the next starts.
type LogPage struct {
	Lines  []LogLine
	Cursor int  // pass it back to continue
	Done   bool // the run has ended: no line will be added
}

// The level filters (document 002's mode).
const (
	LevelAll   = "all"
	LevelDebug = "debug"
	LevelError = "error"
)

func keep(level string, l domain.LogLine) bool {
	switch level {
	case LevelDebug:
		return l.Level == "debug"
	case LevelError:
		return l.Level == "error" || l.Stream == "stderr"
	}
	return true
}

// Logs returns a page of the log of a run, or of one of its actions: the
// lines of each action's current task, in action order, then line order.
// The cursor counts lines of the filtered log, so a client continues where
// it stopped with any level.
func (e *Engine) Logs(ctx context.Context, q LogQuery) (*LogPage, error) {
	switch q.Level {
	case "":
		q.Level = LevelAll
	case LevelAll, LevelDebug, LevelError:
	default:
		return nil, invalid("mode %q is not one of all, debug, error", q.Level).With("field", "mode")
	}
	if q.Limit == 0 {
		q.Limit = MaxLogPage
	}
	if q.Limit < 1 || q.Limit > MaxLogPage {
		return nil, invalid("limit must be between 1 and %d", MaxLogPage).With("field", "limit")
	}
	if q.Cursor < 0 {
		return nil, invalid("cursor must not be negative").With("field", "cursor")
	}
	if q.RunID == 0 {
		if q.ActionID == 0 {
			return nil, invalid("name a run (taskId) or an action (actionId)")
		}
		a, err := e.Action(ctx, q.ActionID)
		if err != nil {
			return nil, err
		}
		q.RunID = a.RunID
	}
	r, err := e.Run(ctx, q.RunID)
	if err != nil {
		return nil, err
	}
	page := &LogPage{Cursor: q.Cursor, Done: !r.State.Active()}
	found := q.ActionID == 0
	skip := q.Cursor
	for _, a := range r.Actions {
		if q.ActionID != 0 && a.ID != q.ActionID {
			continue
		}
		found = true
		if a.TaskID == "" || len(page.Lines) >= q.Limit {
			continue
		}
		lines, err := e.st.LogList(ctx, &store.LogListParams{TaskID: a.TaskID})
		if err != nil {
			continue // its task was pruned
		}
		if live(a) {
			page.Done = false
		}
		for _, l := range lines {
			if !keep(q.Level, l) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(page.Lines) == q.Limit {
				break
			}
			page.Lines = append(page.Lines, LogLine{ActionID: a.ID, Step: a.Step, LogLine: l})
		}
	}
	if !found {
		return nil, invalid("action %d is not an action of run %d", q.ActionID, q.RunID).With("action_id", q.ActionID)
	}
	page.Cursor += len(page.Lines)
	return page, nil
}
