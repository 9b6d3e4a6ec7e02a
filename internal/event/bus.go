// Package event is the cluster's event log in motion: it records events
// (task and device transitions, log entries) in the store in batches, and
// fans them out to live readers (the SSE stream) from a bounded in-memory
// ring of pre-encoded frames.
//
// # Flow
//
//	Publish ──▶ pending (bounded) ──writer, every FlushInterval──▶ store.EventAppend (one transaction)
//	                                                            │
//	      single server: the writer delivers the batch ◀────────┘
//	      shared store:  the writer delivers the batch if its first id follows the
//	                     last delivered; else (another server's events may come
//	                     between) a tailer reads id > last, as on every notification
//	                                                            ▼
//	                                   ring (ids ascending) ──▶ readers pull from their cursor
//
// # Invariants
//
//   - Publish never blocks: the engine's hooks call it on their hot paths.
//     Past MaxPending unwritten events it drops (and counts) new ones.
//   - The ring holds events in id order with no gaps of committed events:
//     on a single server the writer is the only appender and delivers its
//     batches in commit order; on a shared store (PostgreSQL) ids commit in
//     order (see store.EventStore), so reading id > last after every
//     notification delivers every event of every server, in order; and a
//     batch a server just wrote whose first id is last+1 has no event of
//     another server before it still to deliver (a batch's ids are
//     consecutive), so the writer delivers it from memory.
//   - Readers never slow the bus: they pull from the ring at their own pace.
//     A reader whose cursor fell out of the ring reads the store instead
//     (Backfill), or, if it was live, is dropped (see the stream handler).
package event

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Options configure a Bus. Zero fields take the defaults shown.
type Options struct {
	Store  store.Store
	Logger *slog.Logger // must not feed back into this bus (use the untee'd logger)
	Origin string       // this server's name in the events it records
	// FlushInterval is the most an event waits before its batch is
	// written; default 20ms.
	FlushInterval time.Duration
	// MaxPending bounds the unwritten events; past it new ones are
	// dropped and counted; default 50,000 (seconds of the busiest load:
	// the writer commits every FlushInterval).
	MaxPending int
	// RingSize is how many recent events live readers can read without
	// going to the store; default 16,384 (about 8 MB of encoded frames;
	// a reader further behind reads the store).
	RingSize int
}

// Frame is one event, encoded once for every reader.
type Frame struct {
	ID       int64
	Type     string
	DeviceID string
	// JSON is the event as the stream sends it: {"id", "type",
	// "timestamp", "level", "component", "device_id", "task_id",
	// "message", …its data's fields}.
	JSON []byte
}

// Bus records and fans out events. It is safe for concurrent use.
type Bus struct {
	st     store.Store
	log    *slog.Logger
	origin string
	every  time.Duration
	maxPen int

	flushMu sync.Mutex // one flush at a time: batches are written and delivered in order
	mu      sync.Mutex
	pending []domain.Event
	kick    chan struct{}           // cap 1: events are pending
	held    map[string]domain.Event // coalesced events by task id, released every CoalesceInterval

	ringMu  sync.RWMutex
	ring    []Frame // ids ascending, at most ringCap
	ringCap int
	base    int64         // readers whose cursor is >= base can read from the ring
	last    int64         // the last id delivered
	changed chan struct{} // closed and replaced on every delivery

	tail    chan struct{} // cap 1: a shared store has new events
	shared  bool
	dropped atomic.Int64
	written atomic.Int64

	// OnWrite, if set before Run, observes each batch written (for metrics).
	OnWrite func(n int, took time.Duration)
}

// New makes a bus; Run writes and delivers.
func New(opts Options) *Bus {
	b := &Bus{
		st: opts.Store, log: opts.Logger, origin: opts.Origin,
		every: opts.FlushInterval, maxPen: opts.MaxPending, ringCap: opts.RingSize,
		kick: make(chan struct{}, 1), tail: make(chan struct{}, 1), changed: make(chan struct{}),
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.every <= 0 {
		b.every = 20 * time.Millisecond
	}
	if b.maxPen <= 0 {
		b.maxPen = 50_000
	}
	if b.ringCap <= 0 {
		b.ringCap = 16_384
	}
	_, b.shared = opts.Store.(store.EventNotifier)
	return b
}

// CoalesceInterval is how long PublishLatest holds an event: of a task's
// coalesced events, at most one per interval is recorded.
const CoalesceInterval = time.Second

// PublishLatest queues e, an event of task e.TaskID that the next one of
// the same kind makes obsolete (progress): it is held up to
// CoalesceInterval, and replaced if another comes meanwhile, so a chatty
// task costs the log one event a second. Any other event of the task
// releases it first, so the stream never shows it after the task's later
// events (its end).
func (b *Bus) PublishLatest(e domain.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Origin = b.origin
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		b.held = map[string]domain.Event{}
	}
	if _, replaces := b.held[e.TaskID]; !replaces && len(b.held) >= b.maxPen {
		b.dropped.Add(1)
		return
	}
	b.held[e.TaskID] = e
}

// release moves every held event to pending, oldest first. b.mu is held.
func (b *Bus) release() {
	if len(b.held) == 0 {
		return
	}
	start := len(b.pending)
	for _, e := range b.held {
		b.pending = append(b.pending, e)
	}
	clear(b.held)
	sort.SliceStable(b.pending[start:], func(i, j int) bool {
		return b.pending[start+i].Time.Before(b.pending[start+j].Time)
	})
}

// Publish queues e to be recorded and delivered. It never blocks.
func (b *Bus) Publish(e domain.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Origin = b.origin
	b.mu.Lock()
	if h, ok := b.held[e.TaskID]; ok && e.TaskID != "" {
		delete(b.held, e.TaskID)
		b.pending = append(b.pending, h)
	}
	if len(b.pending) >= b.maxPen {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.pending = append(b.pending, e)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Dropped is how many events were dropped because the store fell behind.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }

// Written is how many events were recorded.
func (b *Bus) Written() int64 { return b.written.Load() }

// Run writes and delivers events until ctx ends, then writes what is
// pending (bounded by a short grace) and returns. It must be running for
// Publish to have any effect beyond memory.
func (b *Bus) Run(ctx context.Context) error {
	last, err := b.st.EventLastID(ctx)
	if err != nil && ctx.Err() == nil {
		b.log.Error("event log: reading the last id", "err", err)
	}
	b.ringMu.Lock()
	b.base, b.last = last, last
	b.ringMu.Unlock()

	var wg sync.WaitGroup
	if n, ok := b.st.(store.EventNotifier); ok {
		wg.Go(func() {
			n.ListenEvents(ctx, func() {
				select {
				case b.tail <- struct{}{}:
				default:
				}
			})
		})
		wg.Go(func() { b.tailLoop(ctx) })
	}
	t := time.NewTicker(b.every)
	defer t.Stop()
	coalesce := time.NewTicker(CoalesceInterval)
	defer coalesce.Stop()
	for {
		select {
		case <-coalesce.C:
			b.mu.Lock()
			b.release()
			b.mu.Unlock()
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			b.Flush(fctx)
			cancel()
			wg.Wait()
			return nil
		case <-b.kick:
			// Let a batch gather: wait for the tick unless it is large already.
			b.mu.Lock()
			big := len(b.pending) >= 1000
			b.mu.Unlock()
			if !big {
				select {
				case <-t.C:
				case <-ctx.Done():
					continue
				}
			}
			b.flush(ctx)
		case <-t.C:
			b.flush(ctx)
		}
	}
}

// Flush writes every pending event now, held ones too. Tests and shutdown
// use it.
func (b *Bus) Flush(ctx context.Context) {
	b.mu.Lock()
	b.release()
	b.mu.Unlock()
	b.flush(ctx)
}

func (b *Bus) flush(ctx context.Context) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	for {
		b.mu.Lock()
		batch := b.pending
		if len(batch) > 5000 {
			batch = batch[:5000]
		}
		b.pending = b.pending[len(batch):]
		if len(b.pending) == 0 {
			b.pending = nil
		}
		b.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		start := time.Now()
		if err := b.st.EventAppend(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return
			}
			b.log.Error("event log: write failed; the batch is dropped", "events", len(batch), "err", err)
			b.dropped.Add(int64(len(batch)))
			continue
		}
		b.written.Add(int64(len(batch)))
		if b.OnWrite != nil {
			b.OnWrite(len(batch), time.Since(start))
		}
		if b.shared && !b.deliverNext(batch) {
			// Other servers' events may come first: the tail reads them all.
			select {
			case b.tail <- struct{}{}:
			default:
			}
		} else if !b.shared {
			b.deliver(batch)
		}
	}
}

// tailLoop reads the shared store's new events after every notification.
func (b *Bus) tailLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.tail:
		}
		for {
			b.ringMu.RLock()
			after := b.last
			b.ringMu.RUnlock()
			es, err := b.st.EventList(ctx, &store.EventListParams{AfterID: after, MinLevel: domain.LevelDebug, Limit: 5000})
			if err != nil {
				if ctx.Err() == nil {
					b.log.Error("event log: tailing failed", "err", err)
				}
				break
			}
			b.deliver(es)
			if len(es) < 5000 {
				break
			}
		}
	}
}

// deliver appends events (ids ascending, all after the last delivered) to
// the ring and wakes readers.
func (b *Bus) deliver(es []domain.Event) {
	if len(es) == 0 {
		return
	}
	frames := encodeAll(es)
	b.ringMu.Lock()
	b.appendFrames(frames)
	b.ringMu.Unlock()
}

// deliverNext delivers a batch this server just wrote to a shared store
// from memory, if its first id follows the last one delivered: then no
// other server's event can come between, and the tail need not read and
// decode the batch back. It reports whether it delivered.
func (b *Bus) deliverNext(es []domain.Event) bool {
	if len(es) == 0 {
		return true
	}
	frames := encodeAll(es)
	b.ringMu.Lock()
	defer b.ringMu.Unlock()
	if frames[0].ID != b.last+1 {
		return false
	}
	b.appendFrames(frames)
	return true
}

func encodeAll(es []domain.Event) []Frame {
	frames := make([]Frame, 0, len(es))
	for i := range es {
		frames = append(frames, Encode(&es[i]))
	}
	return frames
}

// appendFrames adds frames to the ring and wakes readers. b.ringMu is held.
func (b *Bus) appendFrames(frames []Frame) {
	for _, f := range frames {
		if f.ID <= b.last {
			continue // already delivered (a tail racing a notification)
		}
		b.ring = append(b.ring, f)
		b.last = f.ID
	}
	if over := len(b.ring) - b.ringCap; over > 0 {
		b.base = b.ring[over-1].ID
		// Copy down rather than reslice, so the array does not grow forever.
		n := copy(b.ring, b.ring[over:])
		clear(b.ring[n:])
		b.ring = b.ring[:n]
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// Last is the id of the last event delivered: a new reader starts after it.
func (b *Bus) Last() int64 {
	b.ringMu.RLock()
	defer b.ringMu.RUnlock()
	return b.last
}

// Base is the oldest cursor the ring can serve: readers behind it read
// the store.
func (b *Bus) Base() int64 {
	b.ringMu.RLock()
	defer b.ringMu.RUnlock()
	return b.base
}

// Read returns up to max frames after id from the ring, and a channel
// closed at the next delivery. ok is false when id is older than the ring
// holds: read the store (Backfill) instead.
func (b *Bus) Read(after int64, max int) (frames []Frame, changed <-chan struct{}, ok bool) {
	b.ringMu.RLock()
	defer b.ringMu.RUnlock()
	if after < b.base {
		return nil, b.changed, false
	}
	i := sort.Search(len(b.ring), func(i int) bool { return b.ring[i].ID > after })
	j := min(len(b.ring), i+max)
	return b.ring[i:j:j], b.changed, true
}

// Backfill reads up to limit events after id from the store, encoded.
func (b *Bus) Backfill(ctx context.Context, after int64, limit int) ([]Frame, error) {
	es, err := b.st.EventList(ctx, &store.EventListParams{AfterID: after, MinLevel: domain.LevelDebug, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Frame, len(es))
	for i := range es {
		out[i] = Encode(&es[i])
	}
	return out, nil
}

// Encode renders e as the stream's JSON object: the fixed fields, then
// the fields of its data. It writes the object directly (decoding each
// event's data into a map and encoding the map took a sixth of a busy
// server's CPU); a data object that names a fixed field, which the fixed
// field overrides, takes the slower way.
func Encode(e *domain.Event) Frame {
	data := bytes.TrimSpace(e.Data)
	if len(data) > 0 && (data[0] != '{' || !json.Valid(data) || namesFixedField(data)) {
		return encodeMerged(e)
	}
	buf := make([]byte, 0, 160+len(e.Message)+len(data))
	buf = append(buf, `{"id":`...)
	buf = strconv.AppendInt(buf, e.ID, 10)
	buf = appendField(buf, "type", e.Type)
	buf = append(buf, `,"timestamp":"`...)
	buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, '"')
	buf = appendField(buf, "level", e.Level.String())
	for _, f := range [...]struct{ k, v string }{{"component", e.Component}, {"device_id", e.DeviceID},
		{"task_id", e.TaskID}, {"message", e.Message}} {
		if f.v != "" {
			buf = appendField(buf, f.k, f.v)
		}
	}
	if inner := bytes.TrimSpace(data[min(1, len(data)) : max(1, len(data))-1]); len(inner) > 0 {
		buf = append(buf, ',')
		buf = append(buf, inner...)
	}
	buf = append(buf, '}')
	return Frame{ID: e.ID, Type: e.Type, DeviceID: e.DeviceID, JSON: buf}
}

// fixedFields are the keys Encode writes itself.
var fixedFields = [...]string{`"id"`, `"type"`, `"timestamp"`, `"level"`, `"component"`, `"device_id"`, `"task_id"`, `"message"`}

// namesFixedField reports whether data may hold a key Encode writes
// itself (it may also be a value: then the slower way gives the same).
func namesFixedField(data []byte) bool {
	for _, k := range fixedFields {
		if bytes.Contains(data, []byte(k)) {
			return true
		}
	}
	return false
}

// appendField appends ,"k":"v" with v escaped as JSON.
func appendField(buf []byte, k, v string) []byte {
	buf = append(buf, ',', '"')
	buf = append(buf, k...)
	buf = append(buf, '"', ':')
	if !plainJSON(v) {
		q, _ := json.Marshal(v)
		return append(buf, q...)
	}
	buf = append(buf, '"')
	buf = append(buf, v...)
	return append(buf, '"')
}

// plainJSON reports whether s needs no escaping in a JSON string (as
// encoding/json escapes: controls, quote, backslash, <, >, &, invalid
// UTF-8, U+2028 and U+2029).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c >= utf8.RuneSelf:
			return utf8.ValidString(s) && !strings.ContainsAny(s, "\u2028\u2029")
		}
	}
	return true
}

// encodeMerged renders e through a map: data's fields, overridden by the
// fixed ones.
func encodeMerged(e *domain.Event) Frame {
	m := map[string]any{}
	if len(e.Data) > 0 {
		_ = json.Unmarshal(e.Data, &m)
	}
	m["id"] = e.ID
	m["type"] = e.Type
	m["timestamp"] = e.Time.UTC().Format(time.RFC3339Nano)
	m["level"] = e.Level.String()
	if e.Component != "" {
		m["component"] = e.Component
	}
	if e.DeviceID != "" {
		m["device_id"] = e.DeviceID
	}
	if e.TaskID != "" {
		m["task_id"] = e.TaskID
	}
	if e.Message != "" {
		m["message"] = e.Message
	}
	raw, _ := json.Marshal(m)
	return Frame{ID: e.ID, Type: e.Type, DeviceID: e.DeviceID, JSON: raw}
}
