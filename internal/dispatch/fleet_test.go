package dispatch

import (
	"testing"

	"github.com/drover-run/drover/internal/domain"
)

func TestAdmit(t *testing.T) {
	t.Parallel()
	phone := &domain.Worker{
		ID: "android-001", Role: "mobile", State: domain.WorkerOnline, Queues: []string{"FifoQ"},
		TaskTypes: []string{"echo", "sleep"}, Platform: domain.Platform{OS: "android"},
		Resources: domain.Resources{CPUCores: 8, MemoryTotalGB: 8}, Labels: map[string]string{"gpu": "none"},
	}
	laptop := &domain.Worker{
		ID: "laptop-002", Role: "compute", State: domain.WorkerOffline, Queues: []string{"FifoQ", "gpu"},
		TaskTypes: []string{"echo", "shell", "resize"}, Platform: domain.Platform{OS: "linux"},
		Resources: domain.Resources{CPUCores: 4, MemoryTotalGB: 16},
	}
	fleet := []*domain.Worker{phone, laptop}
	task := func(mod func(*domain.Task)) *domain.Task {
		t := &domain.Task{Type: "echo", Queue: "FifoQ"}
		if mod != nil {
			mod(t)
		}
		return t
	}
	tests := []struct {
		name  string
		fleet []*domain.Worker
		task  *domain.Task
		want  domain.Code // "" admits
	}{
		{"plain echo", fleet, task(nil), ""},
		{"empty fleet admits any valid task", nil, task(func(t *domain.Task) { t.Requirements.MinCPUCores = 512 }), ""},
		{"custom type a worker handles", fleet, task(func(t *domain.Task) { t.Type = "resize"; t.Queue = "gpu" }), ""},
		{"custom type nobody handles", fleet, task(func(t *domain.Task) { t.Type = "teleport" }), domain.CodeInvalidTaskType},
		{"unknown type even with an empty fleet", nil, task(func(t *domain.Task) { t.Type = "teleport" }), domain.CodeInvalidTaskType},
		{"document 001's requirements", fleet, task(func(t *domain.Task) {
			t.DeviceID = "android-001"
			t.Requirements = domain.Requirements{MinCPUCores: 2, MinMemoryGB: 1, Platform: "android"}
		}), ""},
		{"too many cores for any worker", fleet, task(func(t *domain.Task) { t.Requirements.MinCPUCores = 64 }), domain.CodeInsufficientResources},
		{"platform nobody has", fleet, task(func(t *domain.Task) { t.Requirements.Platform = "ios" }), domain.CodeInsufficientResources},
		{"label nobody has", fleet, task(func(t *domain.Task) { t.Requirements.Labels = map[string]string{"gpu": "a100"} }), domain.CodeInsufficientResources},
		{"offline worker still counts as able", fleet, task(func(t *domain.Task) { t.Requirements.MinMemoryGB = 12 }), ""},
		{"queue nobody listens on waits for its workers", fleet, task(func(t *domain.Task) { t.Queue = "nowhere" }), ""},
		{"pinned host with no worker yet", fleet, task(func(t *domain.Task) { t.Queue = domain.PinnedQueue("10.0.0.5"); t.Requirements.MinCPUCores = 64 }), ""},
		{"queue whose workers cannot run it", fleet, task(func(t *domain.Task) { t.Queue = "gpu"; t.Requirements.Platform = "android" }), domain.CodeInsufficientResources},
		{"only the queue's workers judge", fleet, task(func(t *domain.Task) { t.Queue = "gpu"; t.Requirements.MinCPUCores = 8 }), domain.CodeInsufficientResources},
		{"shell on a fleet without shell", []*domain.Worker{phone}, task(func(t *domain.Task) { t.Type = "shell" }), domain.CodeInsufficientResources},
		{"pin to an unknown device", fleet, task(func(t *domain.Task) { t.DeviceID = "pixel-9" }), domain.CodeDeviceNotFound},
		{"pin to an offline device", fleet, task(func(t *domain.Task) { t.DeviceID = "laptop-002" }), domain.CodeDeviceOffline},
		{"pin to a device that lacks the handler", fleet, task(func(t *domain.Task) { t.DeviceID = "android-001"; t.Type = "shell" }), domain.CodeInsufficientResources},
		{"pin overrides the queue", fleet, task(func(t *domain.Task) { t.DeviceID = "android-001"; t.Queue = "elsewhere" }), ""},
	}
	for _, tc := range tests {
		err := admit(tc.fleet, tc.task)
		got := domain.Code("")
		if err != nil {
			got = domain.CodeOf(err)
		}
		if got != tc.want {
			t.Errorf("%s: admit() = %v, want %q", tc.name, err, tc.want)
		}
	}
}
