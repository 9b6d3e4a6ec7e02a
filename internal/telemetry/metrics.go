package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/version"
)

// Metrics is the server's Prometheus registry (private: nothing registers
// into the global default) and the metrics the engine's hooks update.
type Metrics struct {
	reg *prometheus.Registry

	transitions   *prometheus.CounterVec
	leaseExpiries prometheus.Counter
	dispatch      prometheus.Histogram
	runTime       *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	types         typeLabels
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	agentRequests *prometheus.CounterVec
	agentDuration *prometheus.HistogramVec
	storeDuration *prometheus.HistogramVec
	eventsWritten prometheus.Counter
	eventsDropped prometheus.CounterFunc
	streams       prometheus.Gauge
}

// NewMetrics builds the registry. st backs the gauges read at scrape time
// (queues, workers); dropped reports the event bus's dropped events.
func NewMetrics(st store.Store, dropped func() int64) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_task_transitions_total",
		Help: "Task state changes seen by this server, by task type and the state entered (submitted, running, completed, failed, retrying, cancelled).",
	}, []string{"type", "state"})
	m.leaseExpiries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "drover_lease_expiries_total",
		Help: "Leases that expired because their worker stopped renewing them (rescued by this server's reaper).",
	})
	m.dispatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "drover_dispatch_latency_seconds",
		Help:    "Time from a task becoming available to its lease (submit-to-start for tasks without delay).",
		Buckets: tidyBuckets(0.001, 60),
	})
	m.runTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "drover_task_run_seconds",
		Help: "Run time of attempts, from start to result, by task type and outcome (completed, failed). " +
			"Types beyond the built-in ones and the first 50 others this server sees fold into \"other\".",
		Buckets: tidyBuckets(0.01, 7200),
	}, []string{"type", "outcome"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_task_retries_total",
		Help: "Attempts that will run again, by task type and why: failed (a failed attempt with retries left) or lease_expired (its worker was lost).",
	}, []string{"type", "reason"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_http_requests_total",
		Help: "Native API (and dialect) requests, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_http_request_duration_seconds",
		Help:    "Native API (and dialect) request durations, by route pattern (streams excluded).",
		Buckets: tidyBuckets(0.0005, 10),
	}, []string{"route"})
	m.agentRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drover_agent_http_requests_total",
		Help: "Worker protocol requests (the agent port), by route, method and status code.",
	}, []string{"route", "method", "code"})
	m.agentDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_agent_http_request_duration_seconds",
		Help:    "Worker protocol request durations, by route; lease and control are long polls, held up to their wait.",
		Buckets: tidyBuckets(0.0005, 60),
	}, []string{"route"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "drover_store_operation_duration_seconds",
		Help:    "Store call latency, by operation.",
		Buckets: tidyBuckets(0.0001, 10),
	}, []string{"op"})
	m.eventsWritten = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "drover_events_written_total", Help: "Events recorded in the cluster's event log by this server.",
	})
	m.eventsDropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "drover_events_dropped_total", Help: "Events dropped because the event log's writer fell behind.",
	}, func() float64 { return float64(dropped()) })
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "drover_monitor_streams", Help: "Open GET /api/v1/monitor/stream connections on this server.",
	})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "drover_build_info",
		Help: "Always 1; its labels name this server's build (the version line of drover version and /health).",
		ConstLabels: prometheus.Labels{
			"version": version.Version, "commit": version.Commit, "build_date": version.Date, "goversion": version.GoVersion,
		},
	})
	buildInfo.Set(1)
	m.zeroSeries()
	m.reg.MustRegister(buildInfo, m.transitions, m.leaseExpiries, m.dispatch, m.runTime, m.retries,
		m.httpRequests, m.httpDuration, m.agentRequests, m.agentDuration,
		m.storeDuration, m.eventsWritten, m.eventsDropped, m.streams,
		newStoreCollector(st),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Leadership exports whether this server leads the cluster's singleton
// duties and since when: since returns zero when it does not lead. With
// several servers on one database, exactly one shows drover_leader 1.
func (m *Metrics) Leadership(since func() time.Time) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "drover_leader", Help: "1 while this server leads the cluster's singleton duties (reaper, cron, pools), else 0.",
		}, func() float64 {
			if since().IsZero() {
				return 0
			}
			return 1
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "drover_leader_since_timestamp_seconds", Help: "When this server's current leadership began, in Unix seconds; 0 while it does not lead.",
		}, func() float64 {
			t := since()
			if t.IsZero() {
				return 0
			}
			return float64(t.UnixNano()) / 1e9
		}))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the private registry, for tests and additions.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// StreamOpened counts an open stream; call the returned func when it closes.
func (m *Metrics) StreamOpened() (closed func()) {
	m.streams.Inc()
	return m.streams.Dec
}

// EventsWritten counts events recorded.
func (m *Metrics) EventsWritten(n int, took time.Duration) {
	m.eventsWritten.Add(float64(n))
	m.storeDuration.WithLabelValues("EventAppend").Observe(took.Seconds())
}

// ObserveStore records one store call's latency.
func (m *Metrics) ObserveStore(op string, took time.Duration) {
	m.storeDuration.WithLabelValues(op).Observe(took.Seconds())
}

// Instrument counts native API (and dialect) requests by the route
// pattern the router matched. It must wrap the router itself, so that it
// sees the request the router fills Pattern in.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return instrument(next, m.httpRequests, m.httpDuration)
}

// InstrumentAgent is Instrument for the worker protocol's listener.
func (m *Metrics) InstrumentAgent(next http.Handler) http.Handler {
	return instrument(next, m.agentRequests, m.agentDuration)
}

func instrument(next http.Handler, requests *prometheus.CounterVec, duration *prometheus.HistogramVec) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		} else if _, path, ok := strings.Cut(route, " "); ok {
			route = path
		}
		requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(rec.code)).Inc()
		if !rec.stream {
			duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}

// statusRecorder remembers the status written; Flush passes through (SSE).
type statusRecorder struct {
	http.ResponseWriter
	code   int
	wrote  bool
	stream bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
		s.stream = strings.HasPrefix(s.Header().Get("Content-Type"), "text/event-stream")
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// taskState is the transition a hook reports, as a metric label.
func taskState(t *domain.Task) string {
	if t.State == domain.TaskPending && t.Attempt > 0 {
		return "retrying"
	}
	if t.State == domain.TaskPending {
		return "submitted"
	}
	return string(t.State)
}

// Task counts a transition, and an attempt's run time and retry when it
// ended one.
func (m *Metrics) Task(t *domain.Task) {
	typ, state := m.types.of(t.Type), taskState(t)
	m.transitions.WithLabelValues(typ, state).Inc()
	expired := strings.HasPrefix(t.Error, "lease expired") && t.LeaseOwner == ""
	if expired {
		m.leaseExpiries.Inc()
	}
	if state == "retrying" {
		reason := "failed"
		if expired {
			reason = "lease_expired"
		}
		m.retries.WithLabelValues(typ, reason).Inc()
	}
	if outcome := runOutcome(state); outcome != "" {
		if d := t.ExecutionTime(); d > 0 {
			m.runTime.WithLabelValues(typ, outcome).Observe(d.Seconds())
		}
	}
	if t.State == domain.TaskRunning && !t.StartedAt.IsZero() {
		ready := t.CreatedAt
		if t.AvailableAt.After(ready) {
			ready = t.AvailableAt
		}
		if d := t.StartedAt.Sub(ready); d >= 0 {
			m.dispatch.Observe(d.Seconds())
		}
	}
}

// storeCollector reads queue depths and worker states from the store at
// scrape time, at most once per second however often it is scraped.
type storeCollector struct {
	st store.Store

	depth, oldest, tasks, workers *prometheus.Desc
	dev                           deviceDescs

	mu      sync.Mutex
	at      time.Time
	queues  []store.QueueStat
	byState map[domain.WorkerState]int
	devices []*domain.Worker // at most maxDeviceSeries
	omitted int              // devices beyond them
}

func newStoreCollector(st store.Store) *storeCollector {
	return &storeCollector{
		st:      st,
		depth:   prometheus.NewDesc("drover_queue_depth", "Pending tasks per queue.", []string{"queue"}, nil),
		oldest:  prometheus.NewDesc("drover_queue_oldest_pending_age_seconds", "Age of the oldest available pending task per queue.", []string{"queue"}, nil),
		tasks:   prometheus.NewDesc("drover_tasks", "Tasks in the store, by queue and state (every state of every queue shown, 0 included).", []string{"queue", "state"}, nil),
		workers: prometheus.NewDesc("drover_workers", "Registered workers, by state.", []string{"state"}, nil),
		dev:     newDeviceDescs(),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.tasks
	ch <- c.workers
	c.dev.describe(ch)
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.at) > time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		qs, err := c.st.TaskQueueStats(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.depth, err)
			return
		}
		ws, err := c.st.WorkerList(ctx, &store.WorkerListParams{})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.workers, err)
			return
		}
		c.queues, c.at = boundQueues(qs), now
		c.byState = map[domain.WorkerState]int{domain.WorkerOnline: 0, domain.WorkerDraining: 0, domain.WorkerOffline: 0}
		for _, w := range ws {
			c.byState[w.State]++
		}
		c.devices, c.omitted = boundDevices(ws)
	}
	c.collectTasks(ch)
	c.dev.collect(ch, c.devices, c.omitted)
	pending := map[string]bool{}
	for _, q := range c.queues {
		if q.State == domain.TaskPending {
			pending[q.Queue] = true
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Count), q.Queue)
			age := 0.0
			if !q.OldestPending.IsZero() && now.After(q.OldestPending) {
				age = now.Sub(q.OldestPending).Seconds()
			}
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, q.Queue)
		}
	}
	for _, q := range c.queues {
		if !pending[q.Queue] {
			pending[q.Queue] = true
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, 0, q.Queue)
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, 0, q.Queue)
		}
	}
	for state, n := range c.byState {
		ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(n), string(state))
	}
}

// Queue labels stay a bounded set: every per-host queue (pinned_{host},
// one per target device, so as many as there are devices) is folded into
// the one label value "pinned_*", and beyond maxQueueLabels other queue
// names the rest fold into "other". Counts are summed and the oldest
// pending time is the earliest of the folded queues'. Per-host figures are
// in GET /api/v1/queues and NetPulse's GET /job?host=….
const (
	pinnedQueueLabel = domain.PinnedQueuePrefix + "*"
	otherQueueLabel  = "other"
	maxQueueLabels   = 50
)

// boundQueues folds qs (sorted by queue, then state) into bounded labels.
func boundQueues(qs []store.QueueStat) []store.QueueStat {
	named := map[string]bool{}
	label := func(q string) string {
		switch {
		case domain.HostOfQueue(q) != "":
			return pinnedQueueLabel
		case named[q] || len(named) < maxQueueLabels:
			named[q] = true
			return q
		}
		return otherQueueLabel
	}
	type key struct {
		queue string
		state domain.TaskState
	}
	idx := map[key]int{}
	var out []store.QueueStat
	for _, q := range qs {
		k := key{label(q.Queue), q.State}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, store.QueueStat{Queue: k.queue, State: k.state, Count: q.Count, OldestPending: q.OldestPending})
			continue
		}
		out[i].Count += q.Count
		if !q.OldestPending.IsZero() && (out[i].OldestPending.IsZero() || q.OldestPending.Before(out[i].OldestPending)) {
			out[i].OldestPending = q.OldestPending
		}
	}
	return out
}

// methodLabel bounds the method label: any method name is a valid request
// line, and each would otherwise make a series of its own.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
