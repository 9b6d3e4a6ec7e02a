package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/settings"
)

func (s *Server) logRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/logs", Tag: "observability", Summary: "The cluster's own log: server and worker events and task lifecycle",
			Response: api.LogList{},
			Params: []httpapi.Param{httpapi.Query("level", "string", "this level and above (default info)", "debug", "info", "warning", "error"),
				httpapi.Query("device_id", "string", "one device's entries"), httpapi.Query("component", "string", "one component's entries"),
				httpapi.Query("task_id", "string", "one task's entries"), httpapi.Query("since", "string", "RFC 3339 time, or a duration back from now (1h)"),
				httpapi.Query("limit", "integer", "page size (default 100, at most 1000)"), httpapi.Query("cursor", "integer", "from an earlier answer"),
				httpapi.Query("order", "string", "newest first (desc, default) or oldest first", "asc", "desc")},
			Handler: s.listLogs},
	}
}

// parseSince reads an RFC 3339 time or a duration back from now ("1h").
func (s *Server) parseSince(raw string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, nil
	}
	if d, err := settings.ParseDuration(raw); err == nil {
		return s.engine.Now().Add(-d), nil
	}
	return time.Time{}, domain.Errorf(domain.CodeValidation, "since must be an RFC 3339 time or a duration like 1h").With("field", "since")
}

func (s *Server) listLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq := insight.LogQuery{MinLevel: domain.LevelInfo, DeviceID: q.Get("device_id"), Component: q.Get("component"), TaskID: q.Get("task_id")}
	if raw := q.Get("level"); raw != "" {
		l, ok := domain.ParseLevel(raw)
		if !ok {
			return domain.Errorf(domain.CodeValidation, "level must be one of debug, info, warning, error").With("field", "level")
		}
		lq.MinLevel = l
	}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		lq.Ascending = true
	default:
		return domain.Errorf(domain.CodeValidation, "order must be asc or desc").With("field", "order")
	}
	var err error
	if lq.Since, err = s.parseSince(q.Get("since")); err != nil {
		return err
	}
	if lq.Limit, err = httpapi.IntParam(q.Get("limit"), "limit", 100, 1, 1000); err != nil {
		return err
	}
	if raw := q.Get("cursor"); raw != "" {
		if lq.Cursor, err = strconv.ParseInt(raw, 10, 64); err != nil || lq.Cursor < 0 {
			return domain.Errorf(domain.CodeValidation, "cursor must be a cursor from an earlier answer").With("field", "cursor")
		}
	}
	page, err := s.insight.Logs(r.Context(), lq)
	if err != nil {
		return err
	}
	out := api.LogList{Logs: make([]api.LogEntry, len(page.Entries)), Total: page.Total, HasMore: page.HasMore, Cursor: page.Cursor}
	for i := range page.Entries {
		out.Logs[i] = logEntry(&page.Entries[i])
	}
	envelope.OK(w, r, out, "")
	return nil
}

// logEntry shows an event as a log entry: its details are what a log
// record carried, or the event's own fields.
func logEntry(e *domain.Event) api.LogEntry {
	l := api.LogEntry{ID: e.ID, Timestamp: e.Time.UTC(), Level: e.Level.String(), Type: e.Type, TaskID: e.TaskID,
		Component: e.Component, Message: e.Message, Details: json.RawMessage("{}")}
	if e.DeviceID != "" {
		id := e.DeviceID
		l.DeviceID = &id
	}
	if len(e.Data) > 0 {
		var wrapped struct {
			Details json.RawMessage `json:"details"`
		}
		if json.Unmarshal(e.Data, &wrapped) == nil && len(wrapped.Details) > 0 && e.Type == domain.EventLogEntry {
			l.Details = wrapped.Details
		} else {
			l.Details = e.Data
		}
	}
	return l
}
