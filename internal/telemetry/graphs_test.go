package telemetry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/drover-run/drover/internal/domain"
)

func TestTidyBuckets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lo, hi float64
		want   []float64
	}{
		{0.001, 0.1, []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1}},
		{1, 60, []float64{1, 2.5, 5, 10, 25, 50}},
		{0.0005, 0.005, []float64{0.0005, 0.001, 0.0025, 0.005}},
	}
	for _, tc := range tests {
		if got := tidyBuckets(tc.lo, tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("tidyBuckets(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	// Every bound is exactly 1, 2.5 or 5 times a power of ten: no
	// 0.0025000000000000005.
	for _, b := range tidyBuckets(0.0001, 7200) {
		mantissa, _, _ := strings.Cut(strconv.FormatFloat(b, 'e', -1, 64), "e")
		if mantissa != "1" && mantissa != "2.5" && mantissa != "5" {
			t.Errorf("bound %v is not tidy", b)
		}
	}
}

func TestTypeLabelsAreBounded(t *testing.T) {
	t.Parallel()
	var l typeLabels
	for _, b := range domain.BuiltinTypes {
		if got := l.of(b); got != b {
			t.Errorf("of(%q) = %q, want itself", b, got)
		}
	}
	for i := range maxTypeLabels {
		if got := l.of(fmt.Sprint("custom-", i)); got != fmt.Sprint("custom-", i) {
			t.Errorf("of(custom-%d) = %q, want itself (under the cap)", i, got)
		}
	}
	if got := l.of("one-too-many"); got != otherTypeLabel {
		t.Errorf("of(a type past the cap) = %q, want %q", got, otherTypeLabel)
	}
	if got := l.of("custom-0"); got != "custom-0" {
		t.Errorf("of(a type seen before the cap) = %q, want itself", got)
	}
	if got := l.of(domain.TypeShell); got != domain.TypeShell {
		t.Errorf("of(shell) past the cap = %q, want shell", got)
	}
}

func TestBoundDevicesKeepsLiveFirst(t *testing.T) {
	t.Parallel()
	var ws []*domain.Worker
	for i := range maxDeviceSeries + 50 {
		st := domain.WorkerOffline
		if i%2 == 1 {
			st = domain.WorkerOnline
		}
		ws = append(ws, &domain.Worker{ID: fmt.Sprintf("d%04d", i), State: st})
	}
	shown, omitted := boundDevices(ws)
	if len(shown) != maxDeviceSeries || omitted != 50 {
		t.Fatalf("boundDevices = %d shown, %d omitted; want %d, 50", len(shown), omitted, maxDeviceSeries)
	}
	live := 0
	for _, w := range shown {
		if w.State.Live() {
			live++
		}
	}
	if live != (maxDeviceSeries+50)/2 {
		t.Errorf("boundDevices kept %d live devices, want all %d", live, (maxDeviceSeries+50)/2)
	}
}
