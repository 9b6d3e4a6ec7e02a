package insight

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// LogQuery selects entries of the cluster log.
type LogQuery struct {
	MinLevel                    domain.Level
	DeviceID, Component, TaskID string
	Since                       time.Time
	Limit                       int   // page size
	Cursor                      int64 // from an earlier page; 0: the start
	Ascending                   bool  // oldest first; default newest first
}

// LogPage is one page of the cluster log.
type LogPage struct {
	Entries []domain.Event
	Total   int // entries matching, over every page
	HasMore bool
	// Cursor continues after this page. Oldest first with nothing new, it
	// is the query's own cursor: ask again from the same place.
	Cursor int64
}

// Logs reads a page of the cluster log.
func (s *Service) Logs(ctx context.Context, q LogQuery) (*LogPage, error) {
	p := &store.EventListParams{MinLevel: q.MinLevel, DeviceID: q.DeviceID, Component: q.Component, TaskID: q.TaskID,
		Since: q.Since, Descending: !q.Ascending, Limit: q.Limit + 1} // one more, to tell whether there is another page
	if q.Cursor > 0 {
		if q.Ascending {
			p.AfterID = q.Cursor
		} else {
			p.BeforeID = q.Cursor
		}
	}
	es, err := s.store.EventList(ctx, p)
	if err != nil {
		return nil, err
	}
	total, err := s.store.EventCount(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &LogPage{Entries: es[:min(len(es), q.Limit)], Total: total, HasMore: len(es) > q.Limit}
	if n := len(out.Entries); n > 0 {
		out.Cursor = out.Entries[n-1].ID
	} else if q.Ascending {
		out.Cursor = q.Cursor
	}
	return out, nil
}
