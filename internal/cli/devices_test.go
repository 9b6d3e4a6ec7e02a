package cli

import (
	"net/http"
	"testing"
)

func TestDevicesList(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/devices", deviceListJSON)

	out := mustRun(t, testEnv(t, api), "devices", "list", "--status", "all", "--role", "mobile", "--limit", "10")

	checkGolden(t, out)
	if q := api.last(t).Query; q != "limit=10&role=mobile&status=all" {
		t.Errorf("query %q, want limit=10&role=mobile&status=all", q)
	}
}

func TestDevicesListEmpty(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/devices", `{"devices":[],"total":0,"online":0,"offline":0}`)
	if got := mustRun(t, testEnv(t, api), "devices", "list"); got != "No devices.\n" {
		t.Errorf("devices list = %q, want No devices.", got)
	}
}

func TestDevicesListJSON(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/devices", deviceListJSON)
	if got, want := mustRun(t, testEnv(t, api), "-o", "json", "devices", "list"), indented(t, deviceListJSON); got != want {
		t.Errorf("devices list -o json =\n%s\nwant\n%s", got, want)
	}
}

func TestDevicesGet(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/devices/android-001", deviceDetailJSON)
	checkGolden(t, mustRun(t, testEnv(t, api), "devices", "get", "android-001"))
}

func TestDevicesRemove(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args      []string
		wantQuery string
	}{
		{[]string{"devices", "remove", "android-001"}, ""},
		{[]string{"devices", "remove", "android-001", "--force"}, "force=true"},
	} {
		api := newFakeAPI(t)
		api.reply("DELETE /api/v1/devices/android-001", `{"removed_device":"android-001","cancelled_tasks":2}`)

		out := mustRun(t, testEnv(t, api), tc.args...)

		if out != "Removed device android-001; cancelled 2 tasks\n" {
			t.Errorf("%v printed %q", tc.args, out)
		}
		if q := api.last(t).Query; q != tc.wantQuery {
			t.Errorf("%v: query %q, want %q", tc.args, q, tc.wantQuery)
		}
	}
}

func TestDevicesRemoveRefused(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.fail("DELETE /api/v1/devices/android-001", http.StatusConflict, `{"code":"DEVICE_BUSY","message":"device android-001 runs 2 tasks; use force"}`)
	r := drover(t, testEnv(t, api), "devices", "remove", "android-001")
	if r.code != exitError || r.stderr != "Error: DEVICE_BUSY: device android-001 runs 2 tasks; use force\n" {
		t.Errorf("devices remove = exit %d, stderr %q", r.code, r.stderr)
	}
}
