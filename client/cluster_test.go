package client_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
)

func TestClusterStatusUnwrapsStats(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := api.ClusterStats{
		TotalDevices: 3, OnlineDevices: 2, OfflineDevices: 1, HealthPercentage: 66.7,
		TotalResources: api.TotalResources{CPUCores: 12, MemoryGB: 24, StorageGB: 512},
		ByRole:         map[string]int{"compute": 2, "mobile": 1},
		Uptime:         "15d 6h 42m",
		Tasks:          map[string]int{"pending": 1},
	}
	f.reply("GET /api/v1/cluster/status", api.ClusterStatus{ClusterStats: want})
	got, err := c.Cluster.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

func TestClusterHealth(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := &api.ClusterHealth{
		OverallHealth: "warning",
		Checks: map[string]api.HealthCheck{
			"database":  {Status: "healthy", ResponseTimeMS: new(2.5)},
			"resources": {Status: "warning", CPUUsage: new(91.0)},
		},
	}
	f.reply("GET /api/v1/cluster/health", want)
	got, err := c.Cluster.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Health (-want +got):\n%s", diff)
	}
}
