package worker

import (
	"os"
	"runtime"
	"syscall"
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

func TestScanProcsFindsOurGroup(t *testing.T) {
	t.Parallel()
	if !canScanProcs {
		t.Skip("no process table scan on " + runtime.GOOS)
	}
	pgid, _ := syscall.Getpgid(os.Getpid())
	for _, p := range scanProcs(nil) {
		if p.pid == os.Getpid() {
			if p.pgid != pgid || p.rss == 0 || p.cpu <= 0 {
				t.Errorf("our process = %+v, want pgid %d, some RSS and CPU time", p, pgid)
			}
			return
		}
	}
	t.Error("scan did not list this process")
}
