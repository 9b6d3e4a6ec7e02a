package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/ratelimit"
	"github.com/drover-run/drover/internal/settings"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/telemetry"
)

// Observe is what the observability routes need beyond the engine and the
// store. Nil fields turn their routes' features off (the routes stay, so
// the API's shape never depends on wiring).
type Observe struct {
	Bus      *event.Bus
	Metrics  *telemetry.Metrics
	Settings *settings.Manager
	Pinger   Pinger
	// KeepAlive is the interval of the stream's keep-alive comments;
	// default 15s.
	KeepAlive time.Duration
}

// Pinger sends probes to workers over their control channel.
type Pinger interface {
	// Ping sends one probe to workerID and waits up to timeout for its
	// answer, returning the round trip; an error means the probe was lost.
	Ping(ctx context.Context, workerID string, timeout time.Duration) (time.Duration, error)
}

// observeState is the observability routes' own state.
type observeState struct {
	streamsMu sync.Mutex
	streams   int
}

func periodParam(def string) httpapi.Param {
	return httpapi.Query("period", "string", "the period covered (default "+def+")", "1h", "24h", "7d", "30d")
}

func (s *Server) observeRoutes() []httpapi.Route {
	cfgGet := httpapi.Route{Tag: "config", Response: api.ConfigResponse{}, Handler: s.getConfig}
	cfgPut := httpapi.Route{Access: httpapi.Admin, Tag: "config", Request: api.Config{}, Partial: true,
		Response: api.ConfigUpdateResponse{}, Handler: s.putConfig}
	route := func(r httpapi.Route, method, path, id, summary string) httpapi.Route {
		r.Method, r.Path, r.ID, r.Summary = method, path, id, summary
		return r
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/cluster/metrics", Tag: "observability", Summary: "Average and peak resource use and task outcomes over a period",
			Params:   []httpapi.Param{periodParam("1h"), httpapi.Query("type", "string", "only this section", "cpu", "memory", "network", "disk", "tasks")},
			Response: api.ClusterMetrics{}, Handler: s.clusterMetrics},
		{Method: "POST", Path: "/api/v1/devices/{id}/ping", Tag: "devices", Summary: "Round trips through the device's control channel",
			Request: api.PingRequest{}, BodyOptional: true, Response: api.PingResponse{}, Handler: s.pingDevice},
		{Method: "GET", Path: "/api/v1/logs", Tag: "observability", Summary: "The cluster's own log: server and worker events and task lifecycle",
			Response: api.LogList{},
			Params: []httpapi.Param{httpapi.Query("level", "string", "this level and above (default info)", "debug", "info", "warning", "error"),
				httpapi.Query("device_id", "string", "one device's entries"), httpapi.Query("component", "string", "one component's entries"),
				httpapi.Query("task_id", "string", "one task's entries"), httpapi.Query("since", "string", "RFC 3339 time, or a duration back from now (1h)"),
				httpapi.Query("limit", "integer", "page size (default 100, at most 1000)"), httpapi.Query("cursor", "integer", "from an earlier answer"),
				httpapi.Query("order", "string", "newest first (desc, default) or oldest first", "asc", "desc")},
			Handler: s.listLogs},
		{Method: "GET", Path: "/api/v1/monitor/stream", Tag: "observability", Summary: "Server-Sent Events: every event of the cluster as it happens",
			Raw: "text/event-stream",
			Params: []httpapi.Param{httpapi.Query("types", "string", "comma list of groups (devices, tasks, logs, pools, runs, config) or event types"),
				httpapi.Query("device_id", "string", "one device's events"), httpapi.Query("last_event_id", "integer", "resume after this id (as the Last-Event-ID header)"),
				{Name: "Last-Event-ID", In: "header", Type: "integer", Desc: "resume after this event id"}},
			Handler: s.monitorStream},
		route(cfgGet, "GET", "/api/v1/config", "getConfig", "The cluster configuration"),
		route(cfgPut, "PUT", "/api/v1/config", "putConfig", "Change part of the configuration; every field is validated, nothing changes on an error"),
		route(cfgGet, "GET", "/api/v1/cluster/config", "getClusterConfig", "The cluster configuration (alias of /api/v1/config)"),
		route(cfgPut, "PUT", "/api/v1/cluster/config", "putClusterConfig", "Change the configuration (alias of /api/v1/config)"),
		{Method: "GET", Path: "/api/v1/stats/tasks", Tag: "observability", Summary: "Task outcomes over a period, grouped",
			Params:   []httpapi.Param{periodParam("24h"), httpapi.Query("group_by", "string", "grouping (default device)", "device", "task_type", "hour")},
			Response: api.TaskStatsResponse{}, Handler: s.taskStats},
		{Method: "GET", Path: "/api/v1/stats/devices", Tag: "observability", Summary: "Device utilization, uptime and a performance ranking",
			Params: []httpapi.Param{periodParam("24h")}, Response: api.DeviceStatsResponse{}, Handler: s.deviceStats},
		{Method: "GET", Path: "/metrics", Tag: "observability", Summary: "Prometheus metrics (text exposition format)",
			Raw: "text/plain; version=0.0.4", Handler: s.prometheus},
		{Method: "GET", Path: "/openapi.json", Access: httpapi.Public, Tag: "observability", Summary: "This document",
			Raw: "application/json", Handler: s.openAPI},
	}
}

// periods are the accepted ?period= values and the bucket width each reads:
// a period covers its length back from now, widened to whole buckets (7d
// is the last 7 days and today so far, in UTC days).
var periods = map[string]struct {
	d     time.Duration
	width time.Duration
}{
	"1h":  {time.Hour, store.MetricMinute},
	"24h": {24 * time.Hour, store.MetricHour},
	"7d":  {7 * 24 * time.Hour, store.MetricDay},
	"30d": {30 * 24 * time.Hour, store.MetricDay},
}

// period parses ?period=, returning its name, length, bucket width and the
// first bucket it covers.
func (s *Server) period(r *http.Request, def string) (name string, d, width time.Duration, since time.Time, err error) {
	name = r.URL.Query().Get("period")
	if name == "" {
		name = def
	}
	p, ok := periods[name]
	if !ok {
		return "", 0, 0, time.Time{}, domain.Errorf(domain.CodeValidation, "period must be one of 1h, 24h, 7d, 30d").With("field", "period")
	}
	// The bucket holding now-d is partly inside the period: include it.
	return name, p.d, p.width, s.engine.Now().Add(-p.d).Truncate(p.width), nil
}

func (s *Server) clusterMetrics(w http.ResponseWriter, r *http.Request) error {
	name, d, width, since, err := s.period(r, "1h")
	if err != nil {
		return err
	}
	typ := r.URL.Query().Get("type")
	switch typ {
	case "", "all", "cpu", "memory", "network", "disk", "tasks":
	default:
		return domain.Errorf(domain.CodeValidation, "type must be one of cpu, memory, network, disk, tasks").With("field", "type")
	}
	want := func(t string) bool { return typ == "" || typ == "all" || typ == t }
	ctx := r.Context()
	ws, err := s.store.WorkerList(ctx, &store.WorkerListParams{})
	if err != nil {
		return err
	}
	sums, err := s.store.MetricSummary(ctx, &store.MetricSummaryParams{Width: width, Since: since})
	if err != nil {
		return err
	}
	var (
		n                          int64
		cpu, mem, disk, up         float64
		cpuPeak, memPeak, diskPeak float64
		cores, online              int
		memTotal, diskTotal        float64
	)
	for _, m := range sums {
		n += m.N
		cpu, mem, disk, up = cpu+m.CPUSum, mem+m.MemSum, disk+m.DiskSum, up+m.UpSeconds
		cpuPeak, memPeak, diskPeak = max(cpuPeak, m.CPUMax), max(memPeak, m.MemMax), max(diskPeak, m.DiskMax)
	}
	for _, wk := range ws {
		if wk.State.Live() {
			online++
			cores += wk.Resources.CPUCores
			memTotal += wk.Resources.MemoryTotalGB
			diskTotal += wk.Resources.StorageTotalGB
		}
	}
	avg := func(sum float64) float64 {
		if n == 0 {
			return 0
		}
		return round1(sum / float64(n))
	}
	out := api.ClusterMetrics{Period: name}
	if want("cpu") {
		out.Metrics.CPU = &api.Usage{AverageUsage: avg(cpu), PeakUsage: round1(cpuPeak), TotalCores: &cores}
	}
	if want("memory") {
		gb := round1(memTotal)
		out.Metrics.Memory = &api.Usage{AverageUsage: avg(mem), PeakUsage: round1(memPeak), TotalGB: &gb}
	}
	if want("disk") {
		gb := round1(diskTotal)
		out.Metrics.Disk = &api.Usage{AverageUsage: avg(disk), PeakUsage: round1(diskPeak), TotalGB: &gb}
	}
	if want("network") {
		nm := &api.NetworkMetrics{ConnectedDevices: online, TotalDevices: len(ws), Heartbeats: n}
		if len(ws) > 0 {
			nm.AvailabilityPercent = round1(min(100, 100*up/(d.Seconds()*float64(len(ws)))))
		}
		out.Metrics.Network = nm
	}
	if want("tasks") {
		ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: width, Since: since})
		if err != nil {
			return err
		}
		tm := &api.TaskMetrics{}
		var dsum float64
		var dn int64
		for _, t := range ts {
			tm.Completed, tm.Failed, tm.Cancelled = tm.Completed+t.Completed, tm.Failed+t.Failed, tm.Cancelled+t.Cancelled
			dsum, dn = dsum+t.DurationSum, dn+t.DurationN
		}
		if dn > 0 {
			tm.AverageDurationSeconds = math.Round(dsum/float64(dn)*1000) / 1000
		}
		out.Metrics.Tasks = tm
	}
	envelope.OK(w, r, out, "")
	return nil
}

// performanceHistory is a device's last 24 hours, one point per hour
// (oldest first; hours it was not seen are left out): average CPU and
// memory use, and tasks ended.
func (s *Server) performanceHistory(ctx context.Context, id string) (api.PerformanceHistory, error) {
	h := api.PerformanceHistory{CPUUsage24h: []float64{}, MemoryUsage24h: []float64{}, TaskCount24h: []int64{}}
	since := s.engine.Now().Add(-23 * time.Hour).Truncate(time.Hour)
	ms, err := s.store.MetricList(ctx, &store.MetricListParams{WorkerID: id, Width: store.MetricHour, Since: since})
	if err != nil {
		return h, err
	}
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: store.MetricHour, Since: since, DeviceID: id, GroupBy: store.GroupHour})
	if err != nil {
		return h, err
	}
	tasks := map[int64]int64{}
	for _, t := range ts {
		tasks[t.Bucket.Unix()] = t.Completed + t.Failed + t.Cancelled
	}
	for _, m := range ms {
		if m.N == 0 {
			continue
		}
		h.CPUUsage24h = append(h.CPUUsage24h, round1(m.CPUSum/float64(m.N)))
		h.MemoryUsage24h = append(h.MemoryUsage24h, round1(m.MemSum/float64(m.N)))
		h.TaskCount24h = append(h.TaskCount24h, tasks[m.Bucket.Unix()])
	}
	return h, nil
}

func (s *Server) pingDevice(w http.ResponseWriter, r *http.Request) error {
	var req api.PingRequest
	if err := httpapi.Decode(w, r, &req, true); err != nil {
		return err
	}
	timeout, count := 5.0, 3
	if req.Timeout != nil {
		timeout = *req.Timeout
	}
	if req.Count != nil {
		count = *req.Count
	}
	if timeout < 0.01 || timeout > 60 {
		return domain.Errorf(domain.CodeValidation, "timeout must be between 0.01 and 60 seconds").With("field", "timeout")
	}
	if count < 1 || count > 20 {
		return domain.Errorf(domain.CodeValidation, "count must be between 1 and 20").With("field", "count")
	}
	wk, err := s.engine.Worker(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	res := api.PingResults{DeviceID: wk.ID, Status: string(wk.State), Results: make([]api.PingProbe, count)}
	var sum float64
	answered := 0
	for i := range count {
		res.Results[i].Seq = i + 1
		if !wk.State.Live() || s.obs.Pinger == nil || r.Context().Err() != nil {
			continue // an offline device answers nothing: no need to wait
		}
		rtt, err := s.obs.Pinger.Ping(r.Context(), wk.ID, time.Duration(timeout*float64(time.Second)))
		if err != nil {
			continue
		}
		ms := math.Round(float64(rtt.Microseconds())/10) / 100
		res.Results[i].TimeMS = &ms
		sum += ms
		answered++
	}
	res.Reachable = answered > 0
	res.PacketLoss = round1(100 * float64(count-answered) / float64(count))
	if answered > 0 {
		avg := math.Round(sum/float64(answered)*100) / 100
		res.AverageLatencyMS = &avg
	}
	envelope.OK(w, r, api.PingResponse{PingResults: res}, "")
	return nil
}

// parseSince reads an RFC 3339 time or a duration back from now ("1h").
func (s *Server) parseSince(raw string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, nil
	}
	if d, err := settings.ParseDuration(raw); err == nil {
		return s.engine.Now().Add(-d), nil
	}
	return time.Time{}, domain.Errorf(domain.CodeValidation, "since must be an RFC 3339 time or a duration like 1h").With("field", "since")
}

func (s *Server) listLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := &store.EventListParams{MinLevel: domain.LevelInfo, DeviceID: q.Get("device_id"), Component: q.Get("component"), TaskID: q.Get("task_id"), Descending: true}
	if raw := q.Get("level"); raw != "" {
		l, ok := domain.ParseLevel(raw)
		if !ok {
			return domain.Errorf(domain.CodeValidation, "level must be one of debug, info, warning, error").With("field", "level")
		}
		p.MinLevel = l
	}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		p.Descending = false
	default:
		return domain.Errorf(domain.CodeValidation, "order must be asc or desc").With("field", "order")
	}
	var err error
	if p.Since, err = s.parseSince(q.Get("since")); err != nil {
		return err
	}
	if p.Limit, err = httpapi.IntParam(q.Get("limit"), "limit", 100, 1, 1000); err != nil {
		return err
	}
	if raw := q.Get("cursor"); raw != "" {
		c, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || c < 0 {
			return domain.Errorf(domain.CodeValidation, "cursor must be a cursor from an earlier answer").With("field", "cursor")
		}
		if p.Descending {
			p.BeforeID = c
		} else {
			p.AfterID = c
		}
	}
	limit := p.Limit
	p.Limit++ // one more, to tell whether there is another page
	es, err := s.store.EventList(r.Context(), p)
	if err != nil {
		return err
	}
	total, err := s.store.EventCount(r.Context(), p)
	if err != nil {
		return err
	}
	out := api.LogList{Logs: make([]api.LogEntry, 0, min(len(es), limit)), Total: total, HasMore: len(es) > limit}
	for _, e := range es[:min(len(es), limit)] {
		out.Logs = append(out.Logs, logEntry(&e))
		out.Cursor = e.ID
	}
	if len(out.Logs) == 0 && !p.Descending {
		out.Cursor = p.AfterID // nothing newer: ask again from the same place
	}
	envelope.OK(w, r, out, "")
	return nil
}

// logEntry shows an event as a log entry: its details are what a log
// record carried, or the event's own fields.
func logEntry(e *domain.Event) api.LogEntry {
	l := api.LogEntry{ID: e.ID, Timestamp: e.Time.UTC(), Level: e.Level.String(), Type: e.Type, TaskID: e.TaskID,
		Component: e.Component, Message: e.Message, Details: json.RawMessage("{}")}
	if e.DeviceID != "" {
		id := e.DeviceID
		l.DeviceID = &id
	}
	if len(e.Data) > 0 {
		var wrapped struct {
			Details json.RawMessage `json:"details"`
		}
		if json.Unmarshal(e.Data, &wrapped) == nil && len(wrapped.Details) > 0 && e.Type == domain.EventLogEntry {
			l.Details = wrapped.Details
		} else {
			l.Details = e.Data
		}
	}
	return l
}

// streamFilter is a stream's ?types= and ?device_id=.
type streamFilter struct {
	prefixes []string
	exact    []string
	device   string
}

// streamGroups are the ?types= group names and the event types each covers.
var streamGroups = map[string]string{
	"devices": domain.EventDevicePrefix,
	"tasks":   domain.EventTaskPrefix,
	"logs":    domain.EventLogEntryPrefix,
	"pools":   domain.EventPoolPrefix,
	"runs":    domain.EventRunPrefix,
	"config":  domain.EventConfigPrefix,
}

// knownTypes are the exact type names ?types= accepts.
var knownTypes = []string{
	domain.EventDeviceUpdate, domain.EventDeviceOnline, domain.EventDeviceOffline, domain.EventDeviceRemoved,
	domain.EventTaskSubmitted, domain.EventTaskStarted, domain.EventTaskCompleted, domain.EventTaskFailed,
	domain.EventTaskRetrying, domain.EventTaskCancelled, domain.EventLogEntry, domain.EventConfigUpdated, domain.EventPoolScaled,
}

func parseStreamFilter(r *http.Request) (*streamFilter, error) {
	q := r.URL.Query()
	f := &streamFilter{device: q.Get("device_id")}
	for _, raw := range q["types"] {
		for _, t := range strings.Split(raw, ",") {
			t = strings.TrimSpace(t)
			switch {
			case t == "" || t == "all":
			case streamGroups[t] != "":
				f.prefixes = append(f.prefixes, streamGroups[t])
			case slices.Contains(knownTypes, t) || strings.HasPrefix(t, domain.EventRunPrefix) || strings.HasPrefix(t, domain.EventPoolPrefix):
				f.exact = append(f.exact, t)
			default:
				return nil, domain.Errorf(domain.CodeValidation, "types: '%s' is neither a group (devices, tasks, logs, pools, runs, config) nor an event type", t).
					With("field", "types").With("event_types", knownTypes)
			}
		}
	}
	return f, nil
}

func (f *streamFilter) match(fr *event.Frame) bool {
	if f.device != "" && fr.DeviceID != f.device {
		return false
	}
	if len(f.prefixes) == 0 && len(f.exact) == 0 {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(fr.Type, p) {
			return true
		}
	}
	return slices.Contains(f.exact, fr.Type)
}

// acquireStream takes one of the server's stream slots (server.max_streams,
// document 001's "10 concurrent connections").
func (s *Server) acquireStream() (release func(), err error) {
	limit := 10
	if s.obs.Settings != nil {
		limit = s.obs.Settings.Get().Server.MaxStreams
	}
	s.observe.streamsMu.Lock()
	defer s.observe.streamsMu.Unlock()
	if s.observe.streams >= limit {
		return nil, domain.Errorf(domain.CodeRateLimitExceeded, "at most %d monitor streams may be open at once", limit).With("limit", limit)
	}
	s.observe.streams++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.observe.streamsMu.Lock()
			s.observe.streams--
			s.observe.streamsMu.Unlock()
		})
	}, nil
}

// monitorStream serves GET /api/v1/monitor/stream: Server-Sent Events
// from the event log. Each frame is "id: <event id>" and "data: <event
// JSON>". A client resumes with Last-Event-ID (or ?last_event_id=, for
// EventSource's first connection): every event after that id is sent, from
// the store if it is no longer in memory. A client that falls behind the
// in-memory ring while live is dropped, and resumes where it stopped.
func (s *Server) monitorStream(w http.ResponseWriter, r *http.Request) error {
	bus := s.obs.Bus
	if bus == nil {
		return domain.Errorf(domain.CodeUnavailable, "the event stream is not running on this server")
	}
	f, err := parseStreamFilter(r)
	if err != nil {
		return err
	}
	cursor := bus.Last()
	resume := r.Header.Get("Last-Event-ID")
	if resume == "" {
		resume = r.URL.Query().Get("last_event_id")
	}
	if resume != "" {
		if cursor, err = strconv.ParseInt(resume, 10, 64); err != nil || cursor < 0 {
			return domain.Errorf(domain.CodeValidation, "Last-Event-ID must be an event id").With("field", "Last-Event-ID")
		}
	}
	// Two bounds: the caller's concurrent streams (document 001: 10 per
	// key, enforced by the rate limiter when it is installed), and this
	// server's (server.max_streams).
	releaseSubject, err := ratelimit.AcquireStream(r)
	if err != nil {
		return err
	}
	defer releaseSubject()
	release, err := s.acquireStream()
	if err != nil {
		return err
	}
	defer release()
	if s.obs.Metrics != nil {
		defer s.obs.Metrics.StreamOpened()()
	}
	keepAlive := s.obs.KeepAlive
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	if _, err := io.WriteString(w, "retry: 2000\n: connected\n\n"); err != nil {
		return nil
	}
	if rc.Flush() != nil {
		return nil
	}
	ctx := r.Context()
	ticker := time.NewTicker(keepAlive)
	defer ticker.Stop()
	live := false
	buf := make([]byte, 0, 64<<10)
	for {
		frames, changed, ok := bus.Read(cursor, 1024)
		if !ok {
			if live {
				_, _ = io.WriteString(w, ": dropped: this client fell behind; reconnect with Last-Event-ID to resume\n\n")
				_ = rc.Flush()
				return nil
			}
			if frames, err = bus.Backfill(ctx, cursor, 1000); err != nil {
				return nil
			}
			if len(frames) == 0 {
				cursor = bus.Base() // what was after the cursor is pruned
				continue
			}
		}
		if len(frames) == 0 {
			live = true
			select {
			case <-ctx.Done(): // the client left, or the server is shutting down
				return nil
			case <-changed:
			case <-ticker.C:
				if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return nil
				}
			}
			continue
		}
		buf = buf[:0]
		for i := range frames {
			fr := &frames[i]
			cursor = fr.ID
			if !f.match(fr) {
				continue
			}
			buf = append(buf, "id: "...)
			buf = strconv.AppendInt(buf, fr.ID, 10)
			buf = append(buf, "\ndata: "...)
			buf = append(buf, fr.JSON...)
			buf = append(buf, "\n\n"...)
		}
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}

func configView(c settings.Settings) api.Config {
	return api.Config{
		Server:  api.ServerConfig(c.Server),
		Cluster: api.ClusterTiming(c.Cluster),
		Logging: api.LoggingConfig(c.Logging),
		Metrics: api.MetricsConfig(c.Metrics),
	}
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	if s.obs.Settings == nil {
		return domain.Errorf(domain.CodeUnavailable, "configuration is not available on this server")
	}
	envelope.OK(w, r, api.ConfigResponse{Config: configView(s.obs.Settings.Get())}, "")
	return nil
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) error {
	if s.obs.Settings == nil {
		return domain.Errorf(domain.CodeUnavailable, "configuration is not available on this server")
	}
	var body json.RawMessage
	if err := httpapi.Decode(w, r, &body, false); err != nil {
		return err
	}
	ch, err := s.obs.Settings.Update(r.Context(), body)
	if err != nil {
		return err
	}
	s.log.Info("configuration updated", "component", "config", "updated_fields", ch.UpdatedFields, "restart_required", ch.RestartRequired)
	envelope.OK(w, r, api.ConfigUpdateResponse{UpdatedFields: ch.UpdatedFields, RestartRequired: ch.RestartRequired}, "configuration updated")
	return nil
}

func (s *Server) taskStats(w http.ResponseWriter, r *http.Request) error {
	name, _, width, since, err := s.period(r, "24h")
	if err != nil {
		return err
	}
	groupBy := r.URL.Query().Get("group_by")
	switch groupBy {
	case "":
		groupBy = store.GroupDevice
	case store.GroupDevice, store.GroupTaskType, store.GroupHour:
	default:
		return domain.Errorf(domain.CodeValidation, "group_by must be one of device, task_type, hour").With("field", "group_by")
	}
	if groupBy == store.GroupHour {
		width = store.MetricHour
	}
	ts, err := s.store.TaskStatSummary(r.Context(), &store.TaskStatSummaryParams{Width: width, Since: since, GroupBy: groupBy})
	if err != nil {
		return err
	}
	out := api.TaskStats{Period: name, GroupBy: groupBy}
	groups := map[string]api.TaskCounts{}
	var dsum float64
	var dn int64
	for _, t := range ts {
		c := api.TaskCounts{Completed: t.Completed, Failed: t.Failed, Cancelled: t.Cancelled}
		out.ByStatus.Completed += t.Completed
		out.ByStatus.Failed += t.Failed
		out.ByStatus.Cancelled += t.Cancelled
		dsum, dn = dsum+t.DurationSum, dn+t.DurationN
		switch groupBy {
		case store.GroupDevice:
			groups[deviceKey(t.DeviceID)] = c
		case store.GroupTaskType:
			groups[t.TaskType] = c
		case store.GroupHour:
			groups[t.Bucket.UTC().Format(time.RFC3339)] = c
		}
	}
	switch groupBy {
	case store.GroupDevice:
		out.ByDevice = groups
	case store.GroupTaskType:
		out.ByTaskType = groups
	case store.GroupHour:
		out.ByHour = groups
	}
	if out.ByDevice == nil { // document 001 always shows by_device
		byDev, err := s.store.TaskStatSummary(r.Context(), &store.TaskStatSummaryParams{Width: width, Since: since, GroupBy: store.GroupDevice})
		if err != nil {
			return err
		}
		out.ByDevice = map[string]api.TaskCounts{}
		for _, t := range byDev {
			out.ByDevice[deviceKey(t.DeviceID)] = api.TaskCounts{Completed: t.Completed, Failed: t.Failed, Cancelled: t.Cancelled}
		}
	}
	out.TotalTasks = out.ByStatus.Completed + out.ByStatus.Failed + out.ByStatus.Cancelled
	if dn > 0 {
		out.AverageExecutionTime = math.Round(dsum/float64(dn)*1000) / 1000
	}
	if out.TotalTasks > 0 {
		out.SuccessRate = round1(100 * float64(out.ByStatus.Completed) / float64(out.TotalTasks))
	}
	envelope.OK(w, r, api.TaskStatsResponse{TaskStats: out}, "")
	return nil
}

// deviceKey names a device in by_device: tasks cancelled before any
// device ran them are "unassigned".
func deviceKey(id string) string {
	if id == "" {
		return "unassigned"
	}
	return id
}

// ScoreFormula documents the performance ranking of GET /api/v1/stats/devices.
const ScoreFormula = "score = 0.5 × success_rate + 0.3 × uptime_percent + 0.2 × throughput, each 0–100 over the period: " +
	"success_rate = completed / (completed + failed) × 100 (100 when the device finished nothing); " +
	"uptime_percent = time seen online / time registered within the period × 100; " +
	"throughput = tasks the device finished / the most any device finished × 100 (0 when none finished any)"

func (s *Server) deviceStats(w http.ResponseWriter, r *http.Request) error {
	name, d, width, since, err := s.period(r, "24h")
	if err != nil {
		return err
	}
	ctx := r.Context()
	ws, err := s.store.WorkerList(ctx, &store.WorkerListParams{})
	if err != nil {
		return err
	}
	sums, err := s.store.MetricSummary(ctx, &store.MetricSummaryParams{Width: width, Since: since})
	if err != nil {
		return err
	}
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: width, Since: since, GroupBy: store.GroupDevice})
	if err != nil {
		return err
	}
	bySample := map[string]store.MetricSample{}
	for _, m := range sums {
		bySample[m.WorkerID] = m
	}
	byTasks := map[string]store.TaskStat{}
	var most int64
	for _, t := range ts {
		byTasks[t.DeviceID] = t
		most = max(most, t.Completed+t.Failed)
	}
	now := s.engine.Now()
	out := api.DeviceStats{Period: name, Utilization: map[string]api.DeviceUtilization{}, PerformanceRanking: []api.DeviceScore{}, ScoreFormula: ScoreFormula}
	for _, wk := range ws {
		m, t := bySample[wk.ID], byTasks[wk.ID]
		u := api.DeviceUtilization{TasksCompleted: t.Completed, TasksFailed: t.Failed}
		if m.N > 0 {
			u.CPUAvg, u.MemoryAvg = round1(m.CPUSum/float64(m.N)), round1(m.MemSum/float64(m.N))
		}
		window := min(d, now.Sub(wk.RegisteredAt)).Seconds()
		if window > 0 {
			u.UptimePercent = round1(min(100, 100*m.UpSeconds/window))
		}
		out.Utilization[wk.ID] = u
		success := 100.0
		if fin := t.Completed + t.Failed; fin > 0 {
			success = 100 * float64(t.Completed) / float64(fin)
		}
		throughput := 0.0
		if most > 0 {
			throughput = 100 * float64(t.Completed+t.Failed) / float64(most)
		}
		out.PerformanceRanking = append(out.PerformanceRanking, api.DeviceScore{DeviceID: wk.ID,
			Score: round1(0.5*success + 0.3*u.UptimePercent + 0.2*throughput)})
	}
	slices.SortStableFunc(out.PerformanceRanking, func(a, b api.DeviceScore) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(a.DeviceID, b.DeviceID)
	})
	envelope.OK(w, r, api.DeviceStatsResponse{DeviceStats: out}, "")
	return nil
}

func (s *Server) prometheus(w http.ResponseWriter, r *http.Request) error {
	if s.obs.Metrics == nil {
		return domain.Errorf(domain.CodeUnavailable, "metrics are not collected on this server")
	}
	s.obs.Metrics.Handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	doc, err := OpenAPI(s.version, scheme+"://"+r.Host, s.router.Routes())
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
	return nil
}
