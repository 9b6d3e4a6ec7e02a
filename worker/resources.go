package worker

import (
	"math"
	"net"
	"os"
	"runtime"
	"slices"

	"github.com/drover-run/drover/api"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"
)

// hostInfo holds what a worker says of its machine. Facts that do not
// change are probed once; usage is sampled on each heartbeat, which is
// cheap: a few small reads from /proc and one statfs on Linux.
type hostInfo struct {
	hostname     string
	platform     api.Platform
	cores        int
	interfaces   []string
	capabilities []string
	storageDir   string
}

func probeHost(cfg Config) *hostInfo {
	h := &hostInfo{
		platform: api.Platform{
			OS:        runtime.GOOS,
			Arch:      runtime.GOARCH,
			GoVersion: runtime.Version(),
			Kernel:    kernelVersion(),
		},
		storageDir:   cfg.StorageDir,
		capabilities: []string{"computational", "network_services"},
	}
	h.hostname, _ = os.Hostname()
	if n, err := cpu.Counts(true); err == nil && n > 0 {
		h.cores = n
	} else {
		h.cores = runtime.NumCPU()
	}
	if cfg.AllowShell {
		h.capabilities = append(h.capabilities, "shell")
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			h.interfaces = append(h.interfaces, i.Name)
		}
	}
	return h
}

// resources samples the machine's capacity and use. What the OS will not
// tell is left zero rather than failing the heartbeat.
func (h *hostInfo) resources() api.Resources {
	r := api.Resources{CPUCores: h.cores, Battery: readBattery()}
	// Interval 0 compares with the previous call: no blocking sample.
	if p, err := cpu.Percent(0, false); err == nil && len(p) == 1 {
		r.CPUUsage = round2(p[0])
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		r.MemoryTotalGB = gb(vm.Total)
		r.MemoryUsedGB = gb(vm.Used)
	}
	dir := h.storageDir
	if dir == "" {
		dir = "/"
	}
	if du, err := disk.Usage(dir); err == nil {
		r.StorageTotalGB = gb(du.Total)
		r.StorageUsedGB = gb(du.Used)
	}
	return r
}

func (h *hostInfo) detailedInfo() api.DetailedInfo {
	return api.DetailedInfo{
		Capabilities:      slices.Clone(h.capabilities),
		NetworkInterfaces: slices.Clone(h.interfaces),
		Sensors:           []string{},
	}
}

func gb(b uint64) float64 { return round2(float64(b) / (1 << 30)) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }
