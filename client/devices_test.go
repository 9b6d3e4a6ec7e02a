package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

func TestDevicesList(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "phone", Role: "mobile", Concurrency: 2, Labels: map[string]string{"site": "home"}})
	b.srv.StartWorker(t, worker.Config{Name: "box", Concurrency: 1})

	for _, tc := range []struct {
		opts      client.DeviceListOptions
		wantQuery string
		want      []string
	}{
		{client.DeviceListOptions{}, "", []string{"box", "phone"}},
		{client.DeviceListOptions{Status: "online", Role: "mobile", Limit: 5}, "limit=5&role=mobile&status=online", []string{"phone"}},
		{client.DeviceListOptions{Status: "offline"}, "status=offline", nil},
		{client.DeviceListOptions{Limit: 1}, "limit=1", []string{"box"}},
	} {
		got, err := b.c.Devices.List(t.Context(), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if q := b.rec.last(t).Query; q != tc.wantQuery {
			t.Errorf("List(%+v) query %q, want %q", tc.opts, q, tc.wantQuery)
		}
		var ids []string
		for _, d := range got.Devices {
			ids = append(ids, d.ID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("List(%+v) ids (-want +got):\n%s", tc.opts, diff)
		}
	}

	all, err := b.c.Devices.List(t.Context(), client.DeviceListOptions{Role: "mobile"})
	if err != nil {
		t.Fatal(err)
	}
	d := all.Devices[0]
	if d.Status != "online" || d.Role != "mobile" || d.Concurrency != 2 || d.Labels["site"] != "home" ||
		d.Resources.CPUCores <= 0 || d.Platform.OS == "" || len(d.TaskTypes) == 0 || time.Since(d.LastSeen) > time.Minute {
		t.Errorf("List: device %+v", d)
	}
}

func TestDevicesGet(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "phone", Role: "mobile"})

	got, err := b.c.Devices.Get(t.Context(), "phone")

	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "phone" || got.Role != "mobile" || got.Status != "online" || len(got.DetailedInfo.Capabilities) == 0 {
		t.Errorf("Get = %+v", got)
	}
	_, err = b.c.Devices.Get(t.Context(), "android-999")
	if ce, ok := errors.AsType[*client.Error](err); !ok || ce.StatusCode != http.StatusNotFound || ce.API.Code != "DEVICE_NOT_FOUND" {
		t.Errorf("Get(android-999) = %v, want 404 DEVICE_NOT_FOUND", err)
	}
}

func TestDevicesPing(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1"})

	got, err := b.c.Devices.Ping(t.Context(), "w1", 5, 2)

	if err != nil {
		t.Fatal(err)
	}
	if want := `{"timeout":5,"count":2}`; b.rec.last(t).Body != want {
		t.Errorf("Ping body %s, want %s", b.rec.last(t).Body, want)
	}
	if got.DeviceID != "w1" || !got.Reachable || len(got.Results) != 2 || got.PacketLoss != 0 || got.AverageLatencyMS == nil {
		t.Errorf("Ping = %+v", got)
	}
	if _, err := b.c.Devices.Ping(t.Context(), "w1", 0, 0); err != nil || b.rec.last(t).Body != `{}` {
		t.Errorf("Ping with the defaults: body %s, %v; want {}", b.rec.last(t).Body, err)
	}
}

func TestDevicesRemove(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "idle"})
	b.srv.StartWorker(t, worker.Config{Name: "busy"})
	sleep := api.SubmitTaskRequest{TaskType: "sleep", DeviceID: "busy", Payload: json.RawMessage(`{"seconds":30}`)}
	running := b.submit(t, sleep)
	drovertest.Eventually(t, 10*time.Second, func() bool {
		task, err := b.c.Tasks.Get(t.Context(), running)
		return err == nil && task.Status == "running"
	}, "the sleep task to run")

	// A device with work is kept unless forced.
	_, err := b.c.Devices.Remove(t.Context(), "busy", false)
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "DEVICE_BUSY" {
		t.Errorf("Remove(busy) = %v, want DEVICE_BUSY", err)
	}
	for _, tc := range []struct {
		id        string
		force     bool
		wantQuery string
		want      api.RemoveDeviceResponse
	}{
		{"idle", false, "", api.RemoveDeviceResponse{RemovedDevice: "idle"}},
		{"busy", true, "force=true", api.RemoveDeviceResponse{RemovedDevice: "busy", CancelledTasks: 1}},
	} {
		got, err := b.c.Devices.Remove(t.Context(), tc.id, tc.force)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&tc.want, got); diff != "" {
			t.Errorf("Remove(%s, %v) (-want +got):\n%s", tc.id, tc.force, diff)
		}
		if q := b.rec.last(t).Query; q != tc.wantQuery {
			t.Errorf("Remove(%s, %v) query %q, want %q", tc.id, tc.force, q, tc.wantQuery)
		}
	}
	if task := b.wait(t, running); task.Status != "cancelled" {
		t.Errorf("the removed device's task is %s, want cancelled", task.Status)
	}
}
