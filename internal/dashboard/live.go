package dashboard

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
)

// Live updates. A page opens one event stream (htmx-ext-sse); the stream
// reads the cluster's event bus and sends, per topic a page shows
// (tasks, devices, logs, queues, runs, pools), a bare "something changed" event, at most once
// per Throttle. The page's live region then fetches its own fresh HTML
// (hx-trigger="sse:tasks"). Coalescing makes a tab's cost independent of
// the event rate: 1,000 tasks a second cost it two requests a second.
// A task's page streams its log lines themselves, rendered (and escaped)
// on the server.

// The page topics, and the events that touch each. Queues count tasks and
// the workers serving them; runs advance as their tasks do; pools hold
// workers. Pauses, suspensions, run and pool changes are logged by their
// engines (component audit, workflow, pools), which makes them log_entry
// events: those signal the pages showing them too.
var allTopics = []string{"tasks", "devices", "logs", "queues", "runs", "pools"}

var (
	byTaskEvent = []string{"tasks", "queues", "runs"}
	// A heartbeat (device_update) changes a device's figures; joining,
	// leaving and going offline change queues' and pools' workers too.
	byDeviceEvent = []string{"devices", "queues", "pools"}
	byComponent   = []struct {
		needle []byte
		topics []string
	}{
		{[]byte(`"component":"audit"`), []string{"queues", "devices"}},
		{[]byte(`"component":"workflow"`), []string{"runs"}},
		{[]byte(`"component":"pools"`), []string{"pools", "devices"}},
	}
)

// markTopics marks in dirty the topics of want an event touches.
func markTopics(f *event.Frame, want, dirty map[string]bool) {
	mark := func(ts ...string) {
		for _, t := range ts {
			if want[t] {
				dirty[t] = true
			}
		}
	}
	switch typ := f.Type; {
	case strings.HasPrefix(typ, domain.EventTaskPrefix):
		mark(byTaskEvent...)
	case typ == domain.EventDeviceUpdate:
		mark("devices")
	case strings.HasPrefix(typ, domain.EventDevicePrefix):
		mark(byDeviceEvent...)
	case strings.HasPrefix(typ, domain.EventRunPrefix):
		mark("runs")
	case strings.HasPrefix(typ, domain.EventPoolPrefix):
		mark("pools")
	case strings.HasPrefix(typ, domain.EventLogEntryPrefix):
		mark("logs")
		for _, c := range byComponent {
			if bytes.Contains(f.JSON, c.needle) {
				mark(c.topics...)
			}
		}
	}
}

// stream starts an event stream on w, or refuses one past MaxStreams.
func (d *Dashboard) stream(w http.ResponseWriter) (bus *event.Bus, release func(), err error) {
	if d.opts.Bus == nil {
		return nil, nil, domain.Errorf(domain.CodeUnavailable, "live updates are not running on this server")
	}
	if d.streams.Add(1) > int64(d.opts.MaxStreams) {
		d.streams.Add(-1)
		return nil, nil, domain.Errorf(domain.CodeRateLimitExceeded, "too many open dashboard tabs; close some")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	_, _ = io.WriteString(w, "retry: 2000\n: connected\n\n")
	_ = rc.Flush()
	return d.opts.Bus, func() { d.streams.Add(-1) }, nil
}

// send writes one event whose data is text (may span lines) and flushes.
func send(w http.ResponseWriter, name, text string) error {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(name)
	for line := range strings.SplitSeq(text, "\n") {
		b.WriteString("\ndata: ")
		b.WriteString(line)
	}
	b.WriteString("\n\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

const keepAlive = 15 * time.Second

// startAt is where a stream starts reading the bus: from ?from= (the bus's
// last id when the page was read), so that what changed since then reaches
// the page; else from now.
func startAt(r *http.Request, bus *event.Bus) int64 {
	if bus == nil {
		return 0
	}
	last := bus.Last()
	if from, err := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64); err == nil && from >= 0 && from <= last {
		return from
	}
	return last
}

// live serves GET /ui/live?topics=tasks,devices: throttled change signals.
func (d *Dashboard) live(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	want := map[string]bool{}
	for t := range strings.SplitSeq(r.URL.Query().Get("topics"), ",") {
		if slices.Contains(allTopics, t) {
			want[t] = true
		}
	}
	cursor := startAt(r, d.opts.Bus)
	bus, release, err := d.stream(w)
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	dirty := map[string]bool{}
	// trail: the topics last signalled, signalled once more trailAfter
	// later, when the cached counts (cache.go) have been recounted.
	trail := map[string]bool{}
	var last, trailAt time.Time
	keep := time.NewTicker(keepAlive)
	defer keep.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	emit := func(topics map[string]bool) bool {
		for _, t := range allTopics {
			if topics[t] && send(w, t, "") != nil {
				return false
			}
		}
		return true
	}
	for {
		frames, changed, ok := bus.Read(cursor, 4096)
		if !ok { // fell out of the ring: whatever it missed, refresh it all
			cursor = bus.Last()
			for t := range want {
				dirty[t] = true
			}
		}
		for i := range frames {
			cursor = frames[i].ID
			markTopics(&frames[i], want, dirty)
		}
		if len(frames) == 4096 {
			continue
		}
		now := time.Now()
		if len(dirty) > 0 && now.Sub(last) >= d.opts.Throttle {
			if !emit(dirty) {
				return nil
			}
			clear(trail)
			for t := range dirty {
				trail[t] = true
			}
			clear(dirty)
			last, trailAt = now, now.Add(trailAfter)
		} else if len(dirty) == 0 && !trailAt.IsZero() && !now.Before(trailAt) {
			if !emit(trail) {
				return nil
			}
			trailAt = time.Time{}
		}
		wake := time.Hour
		if len(dirty) > 0 {
			wake = d.opts.Throttle - now.Sub(last)
		} else if !trailAt.IsZero() {
			wake = trailAt.Sub(now)
		}
		timer.Reset(max(wake, time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-timer.C:
		case <-keep.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || http.NewResponseController(w).Flush() != nil {
				return nil
			}
		}
	}
}

// trailAfter is how long after its last signal a topic is signalled once
// more: past the aggregates' recount interval (cache.go), so the page ends
// on the final figures.
const trailAfter = 1500 * time.Millisecond

// logTick is how often a running task's page looks for new log lines:
// worker log lines are stored, not evented, so the stream reads them.
const logTick = time.Second

// taskLive serves GET /ui/tasks/{id}/live?after=seq: a "task" signal when
// the task changes, its new log lines as rendered HTML ("line"), and
// "done" once it has ended and its log is read.
func (d *Dashboard) taskLive(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id := r.PathValue("id")
	cursor := startAt(r, d.opts.Bus)
	t, err := d.opts.Engine.Task(r.Context(), id)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	bus, release, err := d.stream(w)
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	needle := []byte(`"task_id":"` + t.ID + `"`)
	tick := time.NewTicker(logTick)
	defer tick.Stop()
	keep := time.NewTicker(keepAlive)
	defer keep.Stop()
	tpl := d.views.pages["task"]
	ended := t.State.Terminal()
	if shown := r.URL.Query().Get("state"); shown != "" && shown != string(t.State) {
		// It changed between the page's read and this stream's start.
		if send(w, "task", "") != nil {
			return nil
		}
	}
	for {
		// New log lines first, then the header: a finished task's page
		// shows all its output when it shows it finished.
		_, lines, err := d.opts.Engine.TaskLog(ctx, t.ID, after, 500)
		if err != nil {
			return nil
		}
		if len(lines) > 0 {
			var buf bytes.Buffer
			if tpl.ExecuteTemplate(&buf, "lines", lines) != nil {
				return nil
			}
			after = lines[len(lines)-1].Seq
			if send(w, "line", strings.TrimRight(buf.String(), "\n")) != nil {
				return nil
			}
			if len(lines) == 500 {
				continue
			}
		}
		if ended {
			_ = send(w, "done", "")
			<-ctx.Done() // the page closes the stream (sse-close)
			return nil
		}
		frames, changed, ok := bus.Read(cursor, 4096)
		touched := !ok
		if !ok {
			cursor = bus.Last()
		}
		for i := range frames {
			cursor = frames[i].ID
			if strings.HasPrefix(frames[i].Type, domain.EventTaskPrefix) && bytes.Contains(frames[i].JSON, needle) {
				touched = true
			}
		}
		if touched {
			if t, err = d.opts.Engine.Task(ctx, t.ID); err != nil {
				return nil
			}
			ended = t.State.Terminal()
			if send(w, "task", "") != nil {
				return nil
			}
			continue
		}
		if len(frames) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		case <-keep.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || http.NewResponseController(w).Flush() != nil {
				return nil
			}
		}
	}
}
