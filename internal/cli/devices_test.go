package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// twoDevices starts two workers: android-001 (mobile, 2 slots) and
// rpi-002 (compute).
func twoDevices(t *testing.T, srv *drovertest.Server) {
	t.Helper()
	srv.StartWorker(t, worker.Config{Name: "android-001", Role: "mobile", Concurrency: 2, Labels: map[string]string{"site": "home", "gpu": "no"}})
	srv.StartWorker(t, worker.Config{Name: "rpi-002", Concurrency: 1})
}

func TestDevicesList(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)
	env := testEnv(t, srv)

	// The columns hold this machine's figures, so no golden file: the rows
	// and the summary are checked.
	out := mustRun(t, env, "devices", "list")
	lines := strings.Split(out, "\n")
	header := strings.Fields(lines[0])
	if strings.Join(header, " ") != "ID HOSTNAME STATUS ROLE PLATFORM CPU MEMORY TASKS LAST SEEN" || len(lines) != 6 {
		t.Fatalf("devices list =\n%s", out)
	}
	for i, want := range [][]string{{"android-001", "online", "mobile"}, {"rpi-002", "online", "compute"}} {
		row := strings.Fields(lines[i+1])
		if row[0] != want[0] || row[2] != want[1] || row[3] != want[2] || !strings.HasSuffix(lines[i+1], "  0      5m ago") {
			t.Errorf("row %d = %q, want %v, no active task, seen 5m ago", i+1, lines[i+1], want)
		}
	}
	if lines[4] != "2 devices: 2 online, 0 offline" {
		t.Errorf("summary %q", lines[4])
	}

	r := mustRunR(t, env, "devices", "list", "--status", "all", "--role", "mobile", "--limit", "10")
	if q := r.last(t).Query; q != "limit=10&role=mobile&status=all" {
		t.Errorf("query %q, want limit=10&role=mobile&status=all", q)
	}
	if got := strings.Split(r.stdout, "\n"); len(got) != 5 || !strings.HasPrefix(got[1], "android-001 ") || got[3] != "1 devices: 1 online, 0 offline" {
		t.Errorf("devices list --role mobile =\n%s", r.stdout)
	}
}

func TestDevicesListEmpty(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	if got := mustRun(t, testEnv(t, srv), "devices", "list"); got != "No devices.\n" {
		t.Errorf("devices list = %q, want No devices.", got)
	}
}

func TestDevicesListJSON(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)
	r := mustRunR(t, testEnv(t, srv), "-o", "json", "devices", "list")
	if want := r.answered(t); r.stdout != want {
		t.Errorf("devices list -o json =\n%s\nwant the server's answer\n%s", r.stdout, want)
	}
	var l api.DeviceList
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || l.Total != 2 {
		t.Errorf("devices list -o json: %+v, %v", l, err)
	}
}

func TestDevicesGet(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)
	out := mustRun(t, testEnv(t, srv), "devices", "get", "android-001")
	checkGolden(t, scrub(out, nil, "Hostname", "Platform", "Version", "CPU", "Memory", "Storage", "Network", "Uptime"))
}

func TestDevicesRemove(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	twoDevices(t, srv)
	sleep := api.SubmitTaskRequest{TaskType: "sleep", DeviceID: "android-001", Payload: json.RawMessage(`{"seconds":30}`)}
	id := submit(t, srv, sleep)
	drovertest.Eventually(t, 10*time.Second, func() bool {
		task, err := srv.Client.Tasks.Get(t.Context(), id)
		return err == nil && task.Status == "running"
	}, "the sleep task to run")
	env := testEnv(t, srv)

	r := drover(t, env, "devices", "remove", "android-001")
	if r.code != exitError || !strings.HasPrefix(r.stderr, "Error: DEVICE_BUSY: ") {
		t.Errorf("devices remove of a busy device = exit %d, stderr %q; want DEVICE_BUSY", r.code, r.stderr)
	}
	for _, tc := range []struct {
		args      []string
		wantQuery string
		want      string
	}{
		{[]string{"devices", "remove", "rpi-002"}, "", "Removed device rpi-002; cancelled 0 tasks\n"},
		{[]string{"devices", "remove", "android-001", "--force"}, "force=true", "Removed device android-001; cancelled 1 tasks\n"},
	} {
		r := mustRunR(t, env, tc.args...)
		if r.stdout != tc.want {
			t.Errorf("%v printed %q, want %q", tc.args, r.stdout, tc.want)
		}
		if q := r.last(t).Query; q != tc.wantQuery {
			t.Errorf("%v: query %q, want %q", tc.args, q, tc.wantQuery)
		}
	}
	if task := waitFor(t, srv, id); task.Status != "cancelled" {
		t.Errorf("the removed device's task is %s, want cancelled", task.Status)
	}
}
