package event

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/drover-run/drover/internal/domain"
)

// Tee returns a slog handler that passes every record to next and also
// records those at or above level as log_entry events: what a server logs
// becomes the cluster's log (GET /api/v1/logs), stored, not scraped. The
// attributes component, worker_id/device_id and task_id fill the event's
// fields; the rest become its details.
func (b *Bus) Tee(next slog.Handler, level slog.Leveler) slog.Handler {
	return &teeHandler{bus: b, next: next, level: level, component: "server"}
}

type teeHandler struct {
	bus       *Bus
	next      slog.Handler
	level     slog.Leveler
	attrs     []slog.Attr
	group     string
	component string
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() || h.next.Enabled(ctx, l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < h.level.Level() {
		return err
	}
	e := domain.Event{Type: domain.EventLogEntry, Time: r.Time.UTC(), Level: levelOf(r.Level), Component: h.component, Message: r.Message}
	details := map[string]any{}
	take := func(a slog.Attr) bool {
		v := a.Value.Resolve()
		switch a.Key {
		case "component":
			e.Component = v.String()
		case "worker_id", "device_id":
			e.DeviceID = v.String()
		case "task_id":
			e.TaskID = v.String()
		default:
			if h.group != "" {
				a.Key = h.group + "." + a.Key
			}
			details[a.Key] = attrValue(v)
		}
		return true
	}
	for _, a := range h.attrs {
		take(a)
	}
	r.Attrs(take)
	if len(details) > 0 {
		raw, _ := json.Marshal(map[string]any{"details": details})
		e.Data = raw
	}
	h.bus.Publish(e)
	return err
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = name
	return &c
}

func levelOf(l slog.Level) domain.Level {
	switch {
	case l >= slog.LevelError:
		return domain.LevelError
	case l >= slog.LevelWarn:
		return domain.LevelWarning
	case l >= slog.LevelInfo:
		return domain.LevelInfo
	}
	return domain.LevelDebug
}

func attrValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time()
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
		return v.Any()
	}
	return v.String()
}
