package worker

import (
	"slices"
	"testing"
)

func TestPinHostServesTheHostsQueue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		queues []string
		want   []string
	}{
		{"alone", nil, []string{"pinned_10.0.0.5"}},
		{"beside other queues", []string{"FifoQ"}, []string{"FifoQ", "pinned_10.0.0.5"}},
		{"already listed", []string{"pinned_10.0.0.5"}, []string{"pinned_10.0.0.5"}},
	} {
		c, err := Config{Server: "http://127.0.0.1:8080", PinHost: "10.0.0.5", Queues: tc.queues}.withDefaults()
		if err != nil {
			t.Fatalf("%s: withDefaults() error = %v", tc.name, err)
		}
		if !slices.Equal(c.Queues, tc.want) {
			t.Errorf("%s: Queues = %v, want %v", tc.name, c.Queues, tc.want)
		}
	}
	if _, err := (Config{Server: "http://127.0.0.1:8080", PinHost: "a b"}).withDefaults(); err == nil {
		t.Error("withDefaults() accepted PinHost \"a b\"")
	}
}
