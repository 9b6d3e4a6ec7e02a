package server

import (
	"net/http"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/queue"
)

// queueRoutes are /api/v1/queues and the devices' suspend and resume; they
// are left out when no queue engine is wired (Options.Queues).
func (s *Server) queueRoutes() []httpapi.Route {
	if s.queues == nil {
		return nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/queues", Tag: "queues", Summary: "List queues with their task counts, oldest pending age and workers",
			Response: api.QueueList{}, Handler: s.listQueues},
		{Method: "GET", Path: "/api/v1/queues/{name}", Tag: "queues", Summary: "A queue", Response: api.QueueResponse{}, Handler: s.getQueue},
		{Method: "POST", Path: "/api/v1/queues/{name}/pause", Access: httpapi.Admin, Tag: "queues", BodyOptional: true,
			Summary: "Pause a queue: it admits tasks but leases none until resumed", Response: api.QueueResponse{}, Handler: s.pauseQueue},
		{Method: "POST", Path: "/api/v1/queues/{name}/resume", Access: httpapi.Admin, Tag: "queues", BodyOptional: true,
			Summary: "Resume a paused queue", Response: api.QueueResponse{}, Handler: s.resumeQueue},
		{Method: "POST", Path: "/api/v1/devices/{id}/suspend", Access: httpapi.Admin, Tag: "devices", BodyOptional: true,
			Summary: "Suspend a device: it finishes what it runs and leases nothing new until resumed", Response: api.WorkerStateResponse{},
			Handler: s.suspendDevice},
		{Method: "POST", Path: "/api/v1/devices/{id}/resume", Access: httpapi.Admin, Tag: "devices", BodyOptional: true,
			Summary: "Resume a suspended device", Response: api.WorkerStateResponse{}, Handler: s.resumeDevice},
	}
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) error {
	qs, err := s.queues.List(r.Context())
	if err != nil {
		return err
	}
	now := s.engine.Now()
	out := api.QueueList{Queues: make([]api.Queue, len(qs)), Total: len(qs)}
	for i, q := range qs {
		out.Queues[i] = queueView(q, now)
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) getQueue(w http.ResponseWriter, r *http.Request) error {
	q, err := s.queues.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.QueueResponse{Queue: queueView(q, s.engine.Now())}, "")
	return nil
}

func (s *Server) pauseQueue(w http.ResponseWriter, r *http.Request) error {
	q, err := s.queues.Pause(r.Context(), auth.ActorOf(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.QueueResponse{Queue: queueView(q, s.engine.Now())}, "queue paused")
	return nil
}

func (s *Server) resumeQueue(w http.ResponseWriter, r *http.Request) error {
	q, err := s.queues.Resume(r.Context(), auth.ActorOf(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.QueueResponse{Queue: queueView(q, s.engine.Now())}, "queue resumed")
	return nil
}

func (s *Server) suspendDevice(w http.ResponseWriter, r *http.Request) error {
	v, err := s.queues.SuspendWorker(r.Context(), auth.ActorOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	envelope.OK(w, r, workerStateView(v), "device suspended")
	return nil
}

func (s *Server) resumeDevice(w http.ResponseWriter, r *http.Request) error {
	v, err := s.queues.ResumeWorker(r.Context(), auth.ActorOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	envelope.OK(w, r, workerStateView(v), "device resumed")
	return nil
}

func queueView(q *domain.Queue, now time.Time) api.Queue {
	out := api.Queue{Name: q.Name, Host: q.Host, Paused: q.Paused, Counts: map[string]int64{},
		Workers: q.Workers, LiveWorkers: q.LiveWorkers}
	for st, n := range q.Counts {
		out.Counts[string(st)] = n
	}
	if q.Paused {
		at := q.PausedAt.UTC()
		out.PausedAt = &at
	}
	if !q.OldestPending.IsZero() && now.After(q.OldestPending) {
		out.OldestPendingAgeSeconds = now.Sub(q.OldestPending).Seconds()
	}
	return out
}

func workerStateView(v queue.WorkerView) api.WorkerStateResponse {
	out := api.WorkerStateResponse{DeviceID: v.ID, Status: string(v.Status), Suspended: v.Suspended}
	if v.Suspended {
		at := v.SuspendedAt.UTC()
		out.SuspendedAt = &at
	}
	return out
}
