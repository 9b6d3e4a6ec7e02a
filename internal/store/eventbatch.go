package store

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// The stores keep the event log as one row per EventAppend (an event
// batch), not one row per event: the event bus appends every 20 ms, so at
// 10,000 tasks/s one row holds the ~600 events of 200 tasks' three
// transitions. A row per event doubled the rows PostgreSQL wrote per task
// (heap tuple, primary key and time index entries, each WAL-logged); a
// batch is one row whose body PostgreSQL compresses.
//
// A batch row holds first_id (its key), last_id (the largest id it holds),
// n (how many events), min_time and max_time, and the events packed by
// PackEvents. An event's id is first_id plus its offset in the batch;
// pruning may drop events from a batch (RepackEvents) but never changes
// the ids of those it keeps.

// EventBatch is one stored batch: the key and the packed events.
type EventBatch struct {
	FirstID int64
	Packed  []byte
}

// packedEvent is an event in a batch. Off is its id minus the batch's
// first id, written only where it is not the event's position (after
// pruning dropped some).
type packedEvent struct {
	Off       *int64          `json:"i,omitempty"`
	Time      int64           `json:"t"` // Unix microseconds
	Type      string          `json:"y"`
	Level     domain.Level    `json:"l"`
	Component string          `json:"c,omitempty"`
	DeviceID  string          `json:"d,omitempty"`
	TaskID    string          `json:"k,omitempty"`
	Message   string          `json:"m,omitempty"`
	Data      json.RawMessage `json:"x,omitempty"`
	Origin    string          `json:"o,omitempty"`
}

// PackEvents encodes events whose IDs are set (ascending, from firstID on)
// as one batch body.
func PackEvents(firstID int64, events []domain.Event) ([]byte, error) {
	out := make([]packedEvent, len(events))
	for i := range events {
		e := &events[i]
		p := &out[i]
		if off := e.ID - firstID; off != int64(i) {
			p.Off = &off
		}
		p.Time, p.Type, p.Level, p.Component = e.Time.UnixMicro(), e.Type, e.Level, e.Component
		p.DeviceID, p.TaskID, p.Message, p.Origin = e.DeviceID, e.TaskID, e.Message, e.Origin
		if len(e.Data) > 0 {
			p.Data = e.Data
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("store: packing events: %w", err)
	}
	return b, nil
}

// UnpackEvents decodes a batch body.
func UnpackEvents(firstID int64, packed []byte) ([]domain.Event, error) {
	var in []packedEvent
	if err := json.Unmarshal(packed, &in); err != nil {
		return nil, fmt.Errorf("store: unpacking the event batch at %d: %w", firstID, err)
	}
	out := make([]domain.Event, len(in))
	for i := range in {
		p := &in[i]
		off := int64(i)
		if p.Off != nil {
			off = *p.Off
		}
		out[i] = domain.Event{ID: firstID + off, Time: time.UnixMicro(p.Time).UTC(), Type: p.Type, Level: p.Level,
			Component: p.Component, DeviceID: p.DeviceID, TaskID: p.TaskID, Message: p.Message, Data: p.Data, Origin: p.Origin}
	}
	return out, nil
}

// TimeRange is the earliest and latest Time of events (which must not be empty).
func TimeRange(events []domain.Event) (earliest, latest time.Time) {
	earliest, latest = events[0].Time, events[0].Time
	for _, e := range events[1:] {
		if e.Time.Before(earliest) {
			earliest = e.Time
		}
		if e.Time.After(latest) {
			latest = e.Time
		}
	}
	return earliest, latest
}

// Matches reports whether e passes the filter, ids included.
func (p *EventListParams) Matches(e *domain.Event) bool {
	switch {
	case e.Level < p.MinLevel,
		p.AfterID > 0 && e.ID <= p.AfterID,
		p.BeforeID > 0 && e.ID >= p.BeforeID,
		len(p.Types) > 0 && !slices.Contains(p.Types, e.Type),
		p.DeviceID != "" && e.DeviceID != p.DeviceID,
		p.Component != "" && e.Component != p.Component,
		p.TaskID != "" && e.TaskID != p.TaskID,
		!p.Since.IsZero() && e.Time.Before(p.Since):
		return false
	}
	return true
}

// EventBatchPage reads up to limit batches past cursor in the walk's
// direction: ascending, first_id > cursor; descending, first_id < cursor.
// It may leave out batches that cannot hold an event the filter matches
// (last_id <= AfterID, first_id >= BeforeID, max_time < Since).
type EventBatchPage func(cursor int64, descending bool, limit int) ([]EventBatch, error)

// eventPageBatches is how many batches one page reads: a few MB at most.
const eventPageBatches = 16

// ListEventBatches is EventList over a store of batches: it walks the
// batches in id order, a page at a time, until p.Limit events match.
func ListEventBatches(p *EventListParams, page EventBatchPage) ([]domain.Event, error) {
	var out []domain.Event
	err := walkEventBatches(p, page, func(e *domain.Event) bool {
		out = append(out, *e)
		return p.Limit <= 0 || len(out) < p.Limit
	})
	return out, err
}

// CountEventBatches is EventCount over a store of batches.
func CountEventBatches(p *EventListParams, page EventBatchPage) (int, error) {
	q := *p
	q.AfterID, q.BeforeID, q.Limit, q.Descending = 0, 0, 0, false
	n := 0
	err := walkEventBatches(&q, page, func(*domain.Event) bool { n++; return true })
	return n, err
}

// walkEventBatches calls yield with every event p matches, in p's order,
// until yield returns false.
func walkEventBatches(p *EventListParams, page EventBatchPage, yield func(*domain.Event) bool) error {
	cursor := int64(0)
	if p.Descending {
		cursor = math.MaxInt64
	}
	for {
		batches, err := page(cursor, p.Descending, eventPageBatches)
		if err != nil {
			return err
		}
		for _, b := range batches {
			es, err := UnpackEvents(b.FirstID, b.Packed)
			if err != nil {
				return err
			}
			if p.Descending {
				slices.Reverse(es)
			}
			for i := range es {
				if p.Matches(&es[i]) && !yield(&es[i]) {
					return nil
				}
			}
			cursor = b.FirstID
		}
		if len(batches) < eventPageBatches {
			return nil
		}
	}
}

// RepackEvents drops the events of a batch that drop reports, for
// pruning. It returns the new body, the events kept, and how many were
// dropped; kept is empty when the batch should be deleted.
func RepackEvents(b EventBatch, drop func(*domain.Event) bool) (packed []byte, kept []domain.Event, dropped int, err error) {
	es, err := UnpackEvents(b.FirstID, b.Packed)
	if err != nil {
		return nil, nil, 0, err
	}
	kept = es[:0]
	for i := range es {
		if !drop(&es[i]) {
			kept = append(kept, es[i])
		}
	}
	dropped = len(es) - len(kept)
	if dropped == 0 || len(kept) == 0 {
		return nil, kept, dropped, nil
	}
	packed, err = PackEvents(b.FirstID, kept)
	return packed, kept, dropped, err
}
