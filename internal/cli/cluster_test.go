package cli

import "testing"

func TestClusterStatus(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/cluster/status", clusterStatusJSON)
	checkGolden(t, mustRun(t, testEnv(t, api), "cluster", "status"))
}

func TestClusterStatusJSON(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/cluster/status", clusterStatusJSON)
	if got, want := mustRun(t, testEnv(t, api), "cluster", "status", "-o", "json"), indented(t, clusterStatusJSON); got != want {
		t.Errorf("cluster status -o json =\n%s\nwant\n%s", got, want)
	}
}

func TestClusterHealth(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/cluster/health", clusterHealthJSON)
	checkGolden(t, mustRun(t, testEnv(t, api), "cluster", "health"))
}
