package server

import (
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
)

func (s *Server) deviceRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/devices", Tag: "devices", Summary: "List devices", Response: api.DeviceList{},
			Params: []httpapi.Param{httpapi.Query("status", "string", "filter by status", "online", "offline", "draining", "all"),
				httpapi.Query("role", "string", "filter by role"), httpapi.Query("sort", "string", "order", "name", "cpu", "memory", "last_seen"),
				httpapi.Query("limit", "integer", "at most this many (default 100)")},
			Handler: s.listDevices},
		{Method: "GET", Path: "/api/v1/devices/{id}", Tag: "devices", Summary: "A device, with detailed_info and a 24 h performance_history",
			Response: api.DeviceDetailResponse{}, Handler: s.getDevice},
		{Method: "DELETE", Path: "/api/v1/devices/{id}", Access: httpapi.Admin, Tag: "devices", Summary: "Remove a device",
			Params:   []httpapi.Param{httpapi.Query("force", "boolean", "remove even with running tasks, cancelling them")},
			Response: api.RemoveDeviceResponse{}, Handler: s.removeDevice},
		{Method: "POST", Path: "/api/v1/devices/{id}/ping", Tag: "devices", Summary: "Round trips through the device's control channel",
			Request: api.PingRequest{}, BodyOptional: true, Response: api.PingResponse{}, Handler: s.pingDevice},
	}
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := httpapi.IntParam(q.Get("limit"), "limit", 100, 1, 10000)
	if err != nil {
		return err
	}
	status := q.Get("status")
	switch status {
	case "", "all", "online", "offline", "draining":
	default:
		return domain.Errorf(domain.CodeValidation, "status must be one of online, offline, draining, all").With("field", "status")
	}
	sortBy := q.Get("sort")
	switch sortBy {
	case "", "name", "cpu", "memory", "last_seen":
	default:
		return domain.Errorf(domain.CodeValidation, "sort must be one of name, cpu, memory, last_seen").With("field", "sort")
	}
	ws, err := s.engine.Workers(r.Context(), q.Get("role"))
	if err != nil {
		return err
	}
	now := s.engine.Now()
	out := api.DeviceList{Devices: []api.Device{}}
	for _, wk := range ws {
		if wk.State.Live() {
			out.Online++
		} else {
			out.Offline++
		}
		out.Total++
		if !statusMatches(status, wk.State) {
			continue
		}
		out.Devices = append(out.Devices, deviceView(wk, now))
	}
	sortDevices(out.Devices, sortBy)
	if len(out.Devices) > limit {
		out.Devices = out.Devices[:limit]
	}
	envelope.OK(w, r, out, "")
	return nil
}

// statusMatches applies the devices list's status filter: "online" counts a
// draining device, which still runs its tasks.
func statusMatches(filter string, st domain.WorkerState) bool {
	switch filter {
	case "", "all":
		return true
	case "online":
		return st.Live()
	}
	return filter == string(st)
}

func sortDevices(ds []api.Device, by string) {
	less := func(a, b api.Device) bool { return a.ID < b.ID }
	switch by {
	case "cpu":
		less = func(a, b api.Device) bool { return a.Resources.CPUUsage > b.Resources.CPUUsage }
	case "memory":
		less = func(a, b api.Device) bool { return a.Resources.MemoryUsedGB > b.Resources.MemoryUsedGB }
	case "last_seen":
		less = func(a, b api.Device) bool { return a.LastSeen.After(b.LastSeen) }
	}
	sort.SliceStable(ds, func(i, j int) bool { return less(ds[i], ds[j]) })
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	wk, err := s.engine.Worker(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	h, err := s.insight.DeviceHistory(r.Context(), wk.ID)
	if err != nil {
		return err
	}
	d := api.DeviceDetail{
		Device: deviceView(wk, s.engine.Now()),
		DetailedInfo: api.DetailedInfo{
			Capabilities:      nonNil(wk.Info.Capabilities),
			NetworkInterfaces: nonNil(wk.Info.NetworkInterfaces),
			Sensors:           nonNil(wk.Info.Sensors),
		},
		PerformanceHistory: api.PerformanceHistory{Timestamps24h: h.Times, CPUUsage24h: h.CPU, MemoryUsage24h: h.Memory, TaskCount24h: h.Tasks},
	}
	if b := wk.Resources.Battery; b != nil {
		d.DetailedInfo.Battery = &api.Battery{Level: b.Level, Charging: b.Charging}
	}
	envelope.OK(w, r, api.DeviceDetailResponse{Device: d}, "")
	return nil
}

func (s *Server) removeDevice(w http.ResponseWriter, r *http.Request) error {
	force := false
	if raw := r.URL.Query().Get("force"); raw != "" {
		var err error
		if force, err = strconv.ParseBool(strings.ToLower(raw)); err != nil {
			return domain.Errorf(domain.CodeValidation, "force must be true or false").With("field", "force")
		}
	}
	id := r.PathValue("id")
	n, err := s.engine.RemoveWorker(r.Context(), id, force)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.RemoveDeviceResponse{RemovedDevice: id, CancelledTasks: n}, "device removed")
	return nil
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
	res.PacketLoss = math.Round(1000*float64(count-answered)/float64(count)) / 10
	if answered > 0 {
		avg := math.Round(sum/float64(answered)*100) / 100
		res.AverageLatencyMS = &avg
	}
	envelope.OK(w, r, api.PingResponse{PingResults: res}, "")
	return nil
}
