package worker

import (
	"runtime"
	"testing"
)

func TestProbeHost(t *testing.T) {
	t.Parallel()
	h := probeHost(Config{AllowShell: true, StorageDir: t.TempDir()})
	if h.platform.OS != runtime.GOOS || h.platform.Arch != runtime.GOARCH || h.platform.GoVersion != runtime.Version() {
		t.Errorf("platform = %+v", h.platform)
	}
	if runtime.GOOS == "linux" && h.platform.Kernel == "" {
		t.Error("no kernel version")
	}
	r := h.resources()
	if r.CPUCores < 1 || r.MemoryTotalGB <= 0 || r.MemoryUsedGB <= 0 || r.StorageTotalGB <= 0 || r.CPUUsage < 0 || r.CPUUsage > 100 {
		t.Errorf("resources = %+v", r)
	}
	info := h.detailedInfo()
	if len(info.NetworkInterfaces) == 0 {
		t.Error("no network interfaces")
	}
	if want := []string{"computational", "network_services", "shell"}; len(info.Capabilities) != 3 || info.Capabilities[2] != "shell" {
		t.Errorf("capabilities = %v, want %v", info.Capabilities, want)
	}
}
