package server

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/ratelimit"
)

func (s *Server) streamRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/monitor/stream", Tag: "observability", Summary: "Server-Sent Events: every event of the cluster as it happens",
			Raw: "text/event-stream",
			Params: []httpapi.Param{httpapi.Query("types", "string", "comma list of groups (devices, tasks, logs, pools, runs, config) or event types"),
				httpapi.Query("device_id", "string", "one device's events"), httpapi.Query("last_event_id", "integer", "resume after this id (as the Last-Event-ID header)"),
				{Name: "Last-Event-ID", In: "header", Type: "integer", Desc: "resume after this event id"}},
			Handler: s.monitorStream},
	}
}

// streamFilter is a stream's ?types= and ?device_id=.
type streamFilter struct {
	prefixes []string
	exact    []string
	device   string
}

// streamGroups are the ?types= group names and the event types each covers.
var streamGroups = map[string]string{
	"devices": domain.EventDevicePrefix,
	"tasks":   domain.EventTaskPrefix,
	"logs":    domain.EventLogEntryPrefix,
	"pools":   domain.EventPoolPrefix,
	"runs":    domain.EventRunPrefix,
	"config":  domain.EventConfigPrefix,
}

// knownTypes are the exact type names ?types= accepts.
var knownTypes = []string{
	domain.EventDeviceUpdate, domain.EventDeviceOnline, domain.EventDeviceOffline, domain.EventDeviceRemoved,
	domain.EventTaskSubmitted, domain.EventTaskStarted, domain.EventTaskCompleted, domain.EventTaskFailed,
	domain.EventTaskRetrying, domain.EventTaskCancelled, domain.EventTaskProgress, domain.EventLogEntry, domain.EventConfigUpdated, domain.EventPoolScaled,
}

func parseStreamFilter(r *http.Request) (*streamFilter, error) {
	q := r.URL.Query()
	f := &streamFilter{device: q.Get("device_id")}
	for _, raw := range q["types"] {
		for _, t := range strings.Split(raw, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "" || t == "all":
			case streamGroups[t] != "":
				f.prefixes = append(f.prefixes, streamGroups[t])
			case slices.Contains(knownTypes, t) || strings.HasPrefix(t, domain.EventRunPrefix) || strings.HasPrefix(t, domain.EventPoolPrefix):
				f.exact = append(f.exact, t)
			default:
				return nil, domain.Errorf(domain.CodeValidation, "types: '%s' is neither a group (devices, tasks, logs, pools, runs, config) nor an event type", t).
					With("field", "types").With("event_types", knownTypes)
			}
		}
	}
	return f, nil
}

func (f *streamFilter) match(fr *event.Frame) bool {
	if f.device != "" && fr.DeviceID != f.device {
		return false
	}
	if len(f.prefixes) == 0 && len(f.exact) == 0 {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(fr.Type, p) {
			return true
		}
	}
	return slices.Contains(f.exact, fr.Type)
}

// acquireStream takes one of the server's stream slots (server.max_streams,
// document 001's "10 concurrent connections").
func (s *Server) acquireStream() (release func(), err error) {
	limit := 10
	if s.obs.Settings != nil {
		limit = s.obs.Settings.Get().Server.MaxStreams
	}
	s.observe.streamsMu.Lock()
	defer s.observe.streamsMu.Unlock()
	if s.observe.streams >= limit {
		return nil, domain.Errorf(domain.CodeRateLimitExceeded, "at most %d monitor streams may be open at once", limit).With("limit", limit)
	}
	s.observe.streams++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.observe.streamsMu.Lock()
			s.observe.streams--
			s.observe.streamsMu.Unlock()
		})
	}, nil
}

// monitorStream serves GET /api/v1/monitor/stream: Server-Sent Events
// from the event log. Each frame is "id: <event id>" and "data: <event
// JSON>". A client resumes with Last-Event-ID (or ?last_event_id=, for
// EventSource's first connection): every event after that id is sent, from
// the store if it is no longer in memory. A client that falls behind the
// in-memory ring while live is dropped, and resumes where it stopped.
func (s *Server) monitorStream(w http.ResponseWriter, r *http.Request) error {
	bus := s.obs.Bus
	if bus == nil {
		return domain.Errorf(domain.CodeUnavailable, "the event stream is not running on this server")
	}
	f, err := parseStreamFilter(r)
	if err != nil {
		return err
	}
	cursor := bus.Last()
	resume := r.Header.Get("Last-Event-ID")
	if resume == "" {
		resume = r.URL.Query().Get("last_event_id")
	}
	if resume != "" {
		if cursor, err = strconv.ParseInt(resume, 10, 64); err != nil || cursor < 0 {
			return domain.Errorf(domain.CodeValidation, "Last-Event-ID must be an event id").With("field", "Last-Event-ID")
		}
	}
	// Two bounds: the caller's concurrent streams (document 001: 10 per
	// key, enforced by the rate limiter when it is installed), and this
	// server's (server.max_streams).
	releaseSubject, err := ratelimit.AcquireStream(r)
	if err != nil {
		return err
	}
	defer releaseSubject()
	release, err := s.acquireStream()
	if err != nil {
		return err
	}
	defer release()
	if s.obs.Metrics != nil {
		defer s.obs.Metrics.StreamOpened()()
	}
	keepAlive := s.obs.KeepAlive
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	if _, err := io.WriteString(w, "retry: 2000\n: connected\n\n"); err != nil {
		return nil
	}
	if rc.Flush() != nil {
		return nil
	}
	ctx := r.Context()
	ticker := time.NewTicker(keepAlive)
	defer ticker.Stop()
	live := false
	buf := make([]byte, 0, 64<<10)
	for {
		frames, changed, ok := bus.Read(cursor, 1024)
		if !ok {
			if live {
				_, _ = io.WriteString(w, ": dropped: this client fell behind; reconnect with Last-Event-ID to resume\n\n")
				_ = rc.Flush()
				return nil
			}
			if frames, err = bus.Backfill(ctx, cursor, 1000); err != nil {
				return nil
			}
			if len(frames) == 0 {
				cursor = bus.Base() // what was after the cursor is pruned
				continue
			}
		}
		if len(frames) == 0 {
			live = true
			select {
			case <-ctx.Done(): // the client left, or the server is shutting down
				return nil
			case <-changed:
			case <-ticker.C:
				if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return nil
				}
			}
			continue
		}
		buf = buf[:0]
		for i := range frames {
			fr := &frames[i]
			cursor = fr.ID
			if !f.match(fr) {
				continue
			}
			buf = append(buf, "id: "...)
			buf = strconv.AppendInt(buf, fr.ID, 10)
			buf = append(buf, "\ndata: "...)
			buf = append(buf, fr.JSON...)
			buf = append(buf, "\n\n"...)
		}
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}
