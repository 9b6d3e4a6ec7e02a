package worker

import (
	"math"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"

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

	cpuMu   sync.Mutex
	lastCPU cpu.TimesStat // the previous sample, for CPU use between heartbeats
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
	r.CPUUsage = h.cpuUsage()
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

// cpuUsage is the machine's CPU use since the previous sample, in percent.
// It keeps its own previous sample: gopsutil's cpu.Percent(0) keeps one per
// process, so two workers in one process (drover dev) would each see the
// other's interval and report noise.
func (h *hostInfo) cpuUsage() float64 {
	ts, err := cpu.Times(false)
	if err != nil || len(ts) != 1 {
		return 0
	}
	h.cpuMu.Lock()
	defer h.cpuMu.Unlock()
	prev, cur := h.lastCPU, ts[0]
	h.lastCPU = cur
	busy := func(t cpu.TimesStat) float64 {
		return t.User + t.System + t.Nice + t.Irq + t.Softirq + t.Steal
	}
	total := func(t cpu.TimesStat) float64 { return busy(t) + t.Idle + t.Iowait }
	dt := total(cur) - total(prev)
	if prev.CPU == "" || dt <= 0 {
		return 0
	}
	return round2(math.Max(0, math.Min(100, 100*(busy(cur)-busy(prev))/dt)))
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
