package cli

import (
	"strings"
	"testing"
)

const queueListJSON = `{"queues":[
 {"name":"FifoQ","paused":false,"counts":{"pending":3,"running":1,"completed":10,"failed":1,"cancelled":0},"oldest_pending_age_seconds":75,"workers":2,"live_workers":2},
 {"name":"pinned_10.0.0.5","host":"10.0.0.5","paused":true,"paused_at":"2026-03-01T12:00:00Z","counts":{"pending":1,"running":0,"completed":0,"failed":0,"cancelled":0},"oldest_pending_age_seconds":0,"workers":1,"live_workers":0}
],"total":2}`

func TestQueuesList(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/queues", queueListJSON)
	out := mustRun(t, testEnv(t, api), "queues", "list")
	for _, want := range []string{"QUEUE", "FifoQ", "running", "pinned_10.0.0.5", "paused", "2/2", "0/1"} {
		if !strings.Contains(out, want) {
			t.Errorf("queues list lacks %q:\n%s", want, out)
		}
	}
}

func TestQueuesPauseResume(t *testing.T) {
	t.Parallel()
	for _, verb := range []string{"pause", "resume"} {
		api := newFakeAPI(t)
		api.reply("POST /api/v1/queues/pinned_10.0.0.5/"+verb, `{"queue":{"name":"pinned_10.0.0.5","paused":true,"counts":{"pending":4}}}`)
		out := mustRun(t, testEnv(t, api), "queues", verb, "pinned_10.0.0.5")
		if !strings.HasPrefix(out, "Queue pinned_10.0.0.5 ") || !strings.Contains(out, "(4 pending)") {
			t.Errorf("queues %s = %q", verb, out)
		}
	}
}

func TestDevicesSuspendResume(t *testing.T) {
	t.Parallel()
	for verb, status := range map[string]string{"suspend": "suspended", "resume": "idle"} {
		api := newFakeAPI(t)
		api.reply("POST /api/v1/devices/android-001/"+verb, `{"device_id":"android-001","status":"`+status+`","suspended":`+map[bool]string{true: "true", false: "false"}[verb == "suspend"]+`}`)
		if out := mustRun(t, testEnv(t, api), "devices", verb, "android-001"); out != "Device android-001 is "+status+".\n" {
			t.Errorf("devices %s = %q", verb, out)
		}
	}
}
