package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/scale"
)

// poolRoutes are the pools (issue 10). Creating, changing and deleting a
// pool is admin work: a pool's provider runs processes or the operator's
// commands on the server. Scaling one is a write, as change_points is.
func (s *Server) poolRoutes() []httpapi.Route {
	if s.pools == nil {
		return nil
	}
	return []httpapi.Route{
		{Method: "POST", Path: "/api/v1/pools", Access: httpapi.Admin, Tag: "pools", Summary: "Create a pool",
			Request: api.CreatePoolRequest{}, Response: api.PoolResponse{}, Status: http.StatusCreated, Handler: s.createPool},
		{Method: "GET", Path: "/api/v1/pools", Tag: "pools", Summary: "List pools", Response: api.PoolList{}, Handler: s.listPools},
		{Method: "GET", Path: "/api/v1/pools/{id}", Tag: "pools", Summary: "A pool, with its live workers", Response: api.PoolResponse{}, Handler: s.getPool},
		{Method: "PATCH", Path: "/api/v1/pools/{id}", Access: httpapi.Admin, Tag: "pools", Summary: "Change a pool's settings or size",
			Request: api.UpdatePoolRequest{}, Partial: true, Response: api.PoolResponse{}, Handler: s.updatePool},
		{Method: "POST", Path: "/api/v1/pools/{id}/scale", Tag: "pools", Summary: "Set a pool's desired size (the same size again changes nothing)",
			Request: api.ScalePoolRequest{}, Response: api.PoolResponse{}, Handler: s.scalePool},
		{Method: "DELETE", Path: "/api/v1/pools/{id}", Access: httpapi.Admin, Tag: "pools", Summary: "Delete a pool; its workers drain and stop",
			Response: api.DeletePoolResponse{}, Handler: s.deletePool},
		{Method: "GET", Path: "/api/v1/pools/{id}/events", Tag: "pools", Summary: "A pool's scaling history, newest first",
			Params: []httpapi.Param{httpapi.Query("limit", "integer", "at most this many (default 100)")}, Response: api.PoolEventList{}, Handler: s.poolEvents},
	}
}

// Actor names who asked for a change, for a pool's events: the key's id
// when authentication is on, else the interface.
func Actor(ctx context.Context, via string) string {
	if p := auth.PrincipalFrom(ctx); p != nil {
		return via + " key " + p.KeyID
	}
	return via
}

func poolID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.CodeValidation, "pool id must be a positive integer").With("field", "id")
	}
	return id, nil
}

func (s *Server) createPool(w http.ResponseWriter, r *http.Request) error {
	var req api.CreatePoolRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	p, err := s.pools.Create(r.Context(), &domain.Pool{
		ID: req.ID, Name: req.Name, Points: req.Points, MinPoints: req.MinPoints, MaxPoints: req.MaxPoints,
		Provider: req.Provider, ProviderConfig: req.ProviderConfig, Worker: templateFromAPI(req.Worker),
		Autoscale: autoscaleFromAPI(req.Autoscale), DrainTimeout: time.Duration(req.DrainTimeoutSeconds) * time.Second,
	}, Actor(r.Context(), "api"))
	if err != nil {
		return err
	}
	return s.writePool(w, r, p, nil)
}

func (s *Server) listPools(w http.ResponseWriter, r *http.Request) error {
	pools, err := s.pools.List(r.Context())
	if err != nil {
		return err
	}
	out := api.PoolList{Pools: make([]api.Pool, 0, len(pools))}
	for _, p := range pools {
		ws, err := s.pools.Workers(r.Context(), p.ID)
		if err != nil {
			return err
		}
		out.Pools = append(out.Pools, poolView(p, ws))
	}
	out.Total = len(out.Pools)
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) getPool(w http.ResponseWriter, r *http.Request) error {
	id, err := poolID(r)
	if err != nil {
		return err
	}
	p, err := s.pools.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return s.writePool(w, r, p, nil)
}

func (s *Server) updatePool(w http.ResponseWriter, r *http.Request) error {
	id, err := poolID(r)
	if err != nil {
		return err
	}
	var req api.UpdatePoolRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	patch := scale.Patch{Name: req.Name, Points: req.Points, MinPoints: req.MinPoints, MaxPoints: req.MaxPoints,
		Provider: req.Provider, ProviderConfig: req.ProviderConfig}
	if req.Worker != nil {
		t := templateFromAPI(*req.Worker)
		patch.Worker = &t
	}
	if req.Autoscale != nil {
		a := autoscaleFromAPI(*req.Autoscale)
		patch.Autoscale = &a
	}
	if req.DrainTimeoutSeconds != nil {
		d := time.Duration(*req.DrainTimeoutSeconds) * time.Second
		patch.DrainTimeout = &d
	}
	p, err := s.pools.Update(r.Context(), id, patch, Actor(r.Context(), "api"))
	if err != nil {
		return err
	}
	return s.writePool(w, r, p, nil)
}

func (s *Server) scalePool(w http.ResponseWriter, r *http.Request) error {
	id, err := poolID(r)
	if err != nil {
		return err
	}
	var req api.ScalePoolRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	p, changed, err := s.pools.Scale(r.Context(), id, req.Points, Actor(r.Context(), "api"), req.Reason)
	if err != nil {
		return err
	}
	return s.writePool(w, r, p, &changed)
}

func (s *Server) deletePool(w http.ResponseWriter, r *http.Request) error {
	id, err := poolID(r)
	if err != nil {
		return err
	}
	if err := s.pools.Delete(r.Context(), id, Actor(r.Context(), "api")); err != nil {
		return err
	}
	envelope.OK(w, r, api.DeletePoolResponse{DeletedPool: id}, "pool deleted; its workers drain and stop")
	return nil
}

func (s *Server) poolEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := poolID(r)
	if err != nil {
		return err
	}
	limit, err := httpapi.IntParam(r.URL.Query().Get("limit"), "limit", 100, 1, 10000)
	if err != nil {
		return err
	}
	evs, err := s.pools.Events(r.Context(), id, limit)
	if err != nil {
		return err
	}
	out := api.PoolEventList{Events: make([]api.PoolEvent, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, api.PoolEvent{ID: e.ID, PoolID: e.PoolID, Actor: e.Actor, Reason: e.Reason, From: e.From, To: e.To, At: e.At})
	}
	out.Total = len(out.Events)
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) writePool(w http.ResponseWriter, r *http.Request, p *domain.Pool, changed *bool) error {
	ws, err := s.pools.Workers(r.Context(), p.ID)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.PoolResponse{Pool: poolView(p, ws), Changed: changed}, "")
	return nil
}

func poolView(p *domain.Pool, ws []*domain.Worker) api.Pool {
	out := api.Pool{
		ID: p.ID, Name: p.Name, Points: p.Points, MinPoints: p.MinPoints, MaxPoints: p.MaxPoints,
		Provider: p.Provider, ProviderConfig: p.ProviderConfig,
		Worker: api.WorkerTemplate{Queues: p.Worker.Queues, Labels: p.Worker.Labels, Concurrency: p.Worker.Concurrency, AllowShell: p.Worker.AllowShell},
		Autoscale: api.Autoscale{Enabled: p.Autoscale.Enabled, TasksPerWorker: p.Autoscale.TasksPerWorker,
			MaxPendingAgeSeconds: int(p.Autoscale.MaxPendingAge / time.Second), CooldownSeconds: int(p.Autoscale.Cooldown / time.Second)},
		DrainTimeoutSeconds: int(p.DrainTimeout / time.Second),
		Workers:             make([]api.PoolWorker, 0, len(ws)),
		CreatedAt:           p.CreatedAt, UpdatedAt: p.UpdatedAt, ScaledAt: p.ScaledAt,
	}
	for _, w := range ws {
		if w.State == domain.WorkerOnline {
			out.Running++
		}
		out.Workers = append(out.Workers, api.PoolWorker{ID: w.ID, Status: string(w.State), Hostname: w.Hostname, PID: w.PID,
			ActiveTasks: w.TasksActive, LastSeen: w.LastSeen})
	}
	return out
}

func templateFromAPI(t api.WorkerTemplate) domain.WorkerTemplate {
	return domain.WorkerTemplate{Queues: t.Queues, Labels: t.Labels, Concurrency: t.Concurrency, AllowShell: t.AllowShell}
}

func autoscaleFromAPI(a api.Autoscale) domain.Autoscale {
	return domain.Autoscale{Enabled: a.Enabled, TasksPerWorker: a.TasksPerWorker,
		MaxPendingAge: time.Duration(a.MaxPendingAgeSeconds) * time.Second, Cooldown: time.Duration(a.CooldownSeconds) * time.Second}
}
