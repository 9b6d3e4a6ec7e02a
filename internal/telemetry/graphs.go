package telemetry

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drover-run/drover/internal/domain"
)

// tidyBuckets are histogram bounds from lo to hi (both powers of ten, or
// 2.5 or 5 times one) in steps of 1, 2.5 and 5 per decade: bounds a person
// reads at a glance (0.005, 0.01, 0.025, …), written exactly.
func tidyBuckets(lo, hi float64) []float64 {
	var out []float64
	for e := int(math.Floor(math.Log10(lo))) - 1; ; e++ {
		for _, m := range []string{"1", "2.5", "5"} {
			b, _ := strconv.ParseFloat(fmt.Sprintf("%se%d", m, e), 64)
			if b > hi*(1+1e-9) {
				return out
			}
			if b >= lo*(1-1e-9) {
				out = append(out, b)
			}
		}
	}
}

// maxTypeLabels bounds the type label beyond the built-in types: task
// types are names workers choose, so each new one would otherwise be a
// new set of series.
const (
	maxTypeLabels  = 50
	otherTypeLabel = "other"
)

// typeLabels maps task types to a bounded set of label values: the
// built-in types, the first maxTypeLabels others seen, then "other".
type typeLabels struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (l *typeLabels) of(typ string) string {
	if slices.Contains(domain.BuiltinTypes, typ) {
		return typ
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if l.seen[typ] || len(l.seen) < maxTypeLabels {
		l.seen[typ] = true
		return typ
	}
	return otherTypeLabel
}

// transitionStates are the state label's values of drover_task_transitions_total.
var transitionStates = []string{"submitted", "running", "completed", "failed", "retrying", "cancelled"}

// runOutcome is the outcome label of an attempt that ended in state, or
// "" when the transition ends no attempt.
func runOutcome(state string) string {
	switch state {
	case "completed", "failed":
		return state
	}
	return ""
}

// zeroSeries creates every series of the built-in task types at zero, so
// that a graph of a state, a retry reason or an outcome shows 0 from the
// server's start rather than a gap until the first event.
func (m *Metrics) zeroSeries() {
	for _, typ := range domain.BuiltinTypes {
		for _, st := range transitionStates {
			m.transitions.WithLabelValues(typ, st)
		}
		for _, reason := range []string{"failed", "lease_expired"} {
			m.retries.WithLabelValues(typ, reason)
		}
		for _, outcome := range []string{"completed", "failed"} {
			m.runTime.WithLabelValues(typ, outcome)
		}
	}
}

// collectTasks sends drover_tasks for every state of every queue label
// (the default queue always), 0 where no task is, so a graph by state is
// never gappy.
func (c *storeCollector) collectTasks(ch chan<- prometheus.Metric) {
	counts := map[string]map[domain.TaskState]int64{domain.DefaultQueue: {}}
	for _, q := range c.queues {
		if counts[q.Queue] == nil {
			counts[q.Queue] = map[domain.TaskState]int64{}
		}
		counts[q.Queue][q.State] += q.Count
	}
	for queue, by := range counts {
		for _, st := range domain.TaskStates {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(by[st]), queue, string(st))
		}
	}
}

// maxDeviceSeries bounds the per-device gauges: past it, devices are
// left out (live ones are kept first, then by id) and
// drover_device_series_omitted counts them. A fleet of phones can be
// large; GET /api/v1/devices has every one.
const maxDeviceSeries = 200

// boundDevices picks the devices the per-device gauges show: live ones
// first, then by id, at most maxDeviceSeries.
func boundDevices(ws []*domain.Worker) (shown []*domain.Worker, omitted int) {
	shown = slices.Clone(ws)
	slices.SortFunc(shown, func(a, b *domain.Worker) int {
		if a.State.Live() != b.State.Live() {
			if a.State.Live() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(shown) > maxDeviceSeries {
		return shown[:maxDeviceSeries], len(shown) - maxDeviceSeries
	}
	return shown, 0
}

// deviceDescs are the per-device gauges, read from each device's last
// heartbeat.
type deviceDescs struct {
	up, cpu, memory, disk, active, omitted *prometheus.Desc
}

func newDeviceDescs() deviceDescs {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"device"}, nil)
	}
	return deviceDescs{
		up:     d("drover_device_up", fmt.Sprintf("1 while the device is online or draining, 0 when offline; at most %d devices (see drover_device_series_omitted).", maxDeviceSeries)),
		cpu:    d("drover_device_cpu_usage_percent", "CPU use at the device's last heartbeat, in percent; live devices only."),
		memory: d("drover_device_memory_usage_percent", "Memory use at the device's last heartbeat, in percent; live devices only."),
		disk:   d("drover_device_disk_usage_percent", "Disk use at the device's last heartbeat, in percent; live devices only."),
		active: d("drover_device_active_tasks", "Tasks running on the device; live devices only."),
		omitted: prometheus.NewDesc("drover_device_series_omitted",
			fmt.Sprintf("Registered devices left out of the drover_device_* series, which show at most %d (live ones first).", maxDeviceSeries), nil, nil),
	}
}

func (d deviceDescs) describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{d.up, d.cpu, d.memory, d.disk, d.active, d.omitted} {
		ch <- desc
	}
}

func (d deviceDescs) collect(ch chan<- prometheus.Metric, devices []*domain.Worker, omitted int) {
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	gauge(d.omitted, float64(omitted))
	for _, w := range devices {
		if !w.State.Live() {
			gauge(d.up, 0, w.ID)
			continue
		}
		r := w.Resources
		gauge(d.up, 1, w.ID)
		gauge(d.cpu, r.CPUUsage, w.ID)
		gauge(d.memory, percent(r.MemoryUsedGB, r.MemoryTotalGB), w.ID)
		gauge(d.disk, percent(r.StorageUsedGB, r.StorageTotalGB), w.ID)
		gauge(d.active, float64(w.TasksActive), w.ID)
	}
}
