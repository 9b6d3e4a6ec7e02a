package event

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// Encode's direct writing gives the object the map-merging way gives, for
// strings that need escaping, data with and without fields, and data that
// names a fixed field (which the fixed field overrides).
func TestEncodeMatchesMerged(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456000, time.UTC)
	events := []domain.Event{
		{ID: 1, Time: at, Type: "task_started", Level: domain.LevelInfo, Component: "task_executor", DeviceID: "w1",
			TaskID: "t1", Message: "task t1 started", Data: json.RawMessage(`{"attempt":1,"queue":"q"}`)},
		{ID: 2, Time: at, Type: "log_entry", Level: domain.LevelWarning, Message: "quote \" back \\ <tag> & \n tab\t é 世 \u2028",
			Data: json.RawMessage(` { "nested": {"a": [1, 2]} } `)},
		{ID: 3, Time: at, Type: "device_update", Level: domain.LevelDebug, Data: json.RawMessage(`{}`)},
		{ID: 4, Time: at, Type: "task_failed", Level: domain.LevelError, TaskID: "t2", Data: json.RawMessage(`{"type":"spoof","x":1}`)},
		{ID: 5, Time: at, Type: "x", Level: domain.LevelInfo, Message: "bad utf-8 \xff"},
		{ID: 6, Time: at, Type: "x", Level: domain.LevelInfo, Data: json.RawMessage(`[1,2]`)},
	}
	for _, e := range events {
		var got, want map[string]any
		f := Encode(&e)
		if err := json.Unmarshal(f.JSON, &got); err != nil {
			t.Fatalf("Encode(%d) = %s: %v", e.ID, f.JSON, err)
		}
		if err := json.Unmarshal(encodeMerged(&e).JSON, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Encode(%d) = %s, want %v", e.ID, f.JSON, want)
		}
	}
}
