package client_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

func TestDevicesList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts      client.DeviceListOptions
		wantQuery string
	}{
		{client.DeviceListOptions{}, ""},
		{client.DeviceListOptions{Status: "online", Role: "mobile", Limit: 5}, "limit=5&role=mobile&status=online"},
	} {
		f, c := setup(t)
		want := &api.DeviceList{
			Devices: []api.Device{{ID: "android-001", Status: "online", Role: "mobile", LastSeen: time.Date(2023, 1, 1, 12, 0, 0, 0, time.UTC)}},
			Total:   1, Online: 1,
		}
		f.reply("GET /api/v1/devices", want)
		got, err := c.Devices.List(t.Context(), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List (-want +got):\n%s", diff)
		}
		if q := f.last(t).Query; q != tc.wantQuery {
			t.Errorf("List(%+v) query %q, want %q", tc.opts, q, tc.wantQuery)
		}
	}
}

func TestDevicesGetUnwrapsDevice(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := api.DeviceDetail{
		Device:       api.Device{ID: "android-001", Hostname: "phone"},
		DetailedInfo: api.DetailedInfo{Capabilities: []string{"echo"}, Battery: &api.Battery{Level: 80, Charging: true}},
	}
	f.reply("GET /api/v1/devices/android-001", api.DeviceDetailResponse{Device: want})
	got, err := c.Devices.Get(t.Context(), "android-001")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
}

func TestDevicesRemove(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		force     bool
		wantQuery string
	}{{false, ""}, {true, "force=true"}} {
		f, c := setup(t)
		want := &api.RemoveDeviceResponse{RemovedDevice: "android-001", CancelledTasks: 2}
		f.reply("DELETE /api/v1/devices/android-001", want)
		got, err := c.Devices.Remove(t.Context(), "android-001", tc.force)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Remove (-want +got):\n%s", diff)
		}
		if q := f.last(t).Query; q != tc.wantQuery {
			t.Errorf("Remove(force=%v) query %q, want %q", tc.force, q, tc.wantQuery)
		}
	}
}
