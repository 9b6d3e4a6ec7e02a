package server

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/store"
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
	ws, err := s.store.WorkerList(r.Context(), &store.WorkerListParams{Role: q.Get("role")})
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
	history, err := s.performanceHistory(r.Context(), wk.ID)
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
		PerformanceHistory: history,
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
