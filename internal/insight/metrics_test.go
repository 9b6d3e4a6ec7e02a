package insight_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/sqlite"
	"github.com/drover-run/drover/internal/telemetry"
)

// TestAvailability feeds heartbeats through the real sampler into SQLite
// and reads cluster metrics back: a device that heartbeat every interval
// since it joined is 100% available whenever it joined, and one silent for
// half of its life is 50%. (The bug this guards against divided a device's
// online time by the whole period, so a cluster started three minutes ago
// showed 0.2% over 24h.)
func TestAvailability(t *testing.T) {
	t.Parallel()
	const hb = 5 * time.Second
	for _, tc := range []struct {
		name          string
		period        string
		joinedAgo     time.Duration // when the device registered
		silentFor     time.Duration // the last stretch it sent no heartbeat in
		wantMin, want float64
	}{
		{"joined 3 minutes ago, 24h", "24h", 3 * time.Minute, 0, 99, 100},
		{"joined 3 minutes ago, 1h", "1h", 3 * time.Minute, 0, 99, 100},
		{"up for two days, 24h", "24h", 48 * time.Hour, 0, 99, 100},
		{"up for two days, 7d", "7d", 48 * time.Hour, 0, 99, 100},
		{"silent half of its life, 1h", "1h", 40 * time.Minute, 20 * time.Minute, 49, 51},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			now := time.Date(2026, 11, 30, 15, 37, 12, 0, time.UTC)
			joined := now.Add(-tc.joinedAgo)
			w := &domain.Worker{ID: "vm-1", Name: "vm-1", Hostname: "vm-1", State: domain.WorkerOnline, Concurrency: 1,
				Resources: domain.Resources{CPUCores: 4, CPUUsage: 10, MemoryTotalGB: 8, MemoryUsedGB: 2}}
			if _, err := st.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: w, Now: joined}); err != nil {
				t.Fatal(err)
			}
			clock := joined
			sampler := telemetry.NewSampler(telemetry.SamplerOptions{Store: st,
				Interval: func() time.Duration { return hb }, Now: func() time.Time { return clock }})
			for ; clock.Before(now.Add(-tc.silentFor)); clock = clock.Add(hb) {
				sampler.Heartbeat(w)
			}
			if err := sampler.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			svc := insight.New(st, func() time.Time { return now }, now)
			p, err := svc.ParsePeriod(tc.period, "")
			if err != nil {
				t.Fatal(err)
			}
			m, err := svc.Metrics(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if m.Availability < tc.wantMin || m.Availability > tc.want {
				t.Errorf("Metrics(%s).Availability = %v, want %v..%v", tc.period, m.Availability, tc.wantMin, tc.want)
			}
			ds, err := svc.DeviceStats(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if u := ds.Utilization["vm-1"].UptimePercent; u < tc.wantMin || u > tc.want {
				t.Errorf("DeviceStats(%s) uptime = %v, want %v..%v", tc.period, u, tc.wantMin, tc.want)
			}
		})
	}
}
