package cli

import (
	"strings"
	"testing"

	"github.com/drover-run/drover/drovertest"
)

func TestClusterStatus(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)
	waitFor(t, srv, submit(t, srv, echoReq("hi", 1)))
	submit(t, srv, delayed(echoReq("later", 1)))
	out := mustRun(t, testEnv(t, srv), "cluster", "status")
	checkGolden(t, scrub(out, nil, "Resources", "Uptime"))
}

func TestClusterStatusJSON(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)
	r := mustRunR(t, testEnv(t, srv), "cluster", "status", "-o", "json")
	if want := r.answered(t); r.stdout != want || !strings.Contains(r.stdout, `"cluster_stats"`) {
		t.Errorf("cluster status -o json =\n%s\nwant the server's answer\n%s", r.stdout, want)
	}
}

func TestClusterHealth(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)
	out := mustRun(t, testEnv(t, srv), "cluster", "health")
	// The resources check reads this machine's load, so no golden file.
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "Overall: ") || lines[1] != "" || strings.Join(strings.Fields(lines[2]), " ") != "CHECK STATUS DETAILS" {
		t.Fatalf("cluster health =\n%s", out)
	}
	var database string
	for _, l := range lines[3:] {
		if strings.HasPrefix(l, "database ") {
			database = strings.Join(strings.Fields(l), " ")
		}
	}
	if !strings.HasPrefix(database, "database healthy response ") || !strings.HasSuffix(database, " ms") {
		t.Errorf("database row %q, want healthy with its response time:\n%s", database, out)
	}
}
