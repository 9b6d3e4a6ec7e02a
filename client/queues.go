package client

import (
	"context"
	"net/http"

	"github.com/drover-run/drover/api"
)

// QueuesService lists, pauses and resumes queues: /api/v1/queues.
type QueuesService struct{ c *Client }

// List returns every queue with its counts (GET /queues).
func (s *QueuesService) List(ctx context.Context) (*api.QueueList, error) {
	var out api.QueueList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/queues"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns one queue (GET /queues/{name}).
func (s *QueuesService) Get(ctx context.Context, name string) (*api.Queue, error) {
	return s.queueCall(ctx, http.MethodGet, name, "")
}

// Pause stops the queue's tasks from being leased until Resume; it still
// admits tasks (POST /queues/{name}/pause).
func (s *QueuesService) Pause(ctx context.Context, name string) (*api.Queue, error) {
	return s.queueCall(ctx, http.MethodPost, name, "/pause")
}

// Resume lets a paused queue's tasks be leased again (POST /queues/{name}/resume).
func (s *QueuesService) Resume(ctx context.Context, name string) (*api.Queue, error) {
	return s.queueCall(ctx, http.MethodPost, name, "/resume")
}

func (s *QueuesService) queueCall(ctx context.Context, method, name, suffix string) (*api.Queue, error) {
	path, err := itemPath("queues", name, suffix)
	if err != nil {
		return nil, err
	}
	var out api.QueueResponse
	if err := s.c.call(ctx, request{method: method, path: path}, &out); err != nil {
		return nil, err
	}
	return &out.Queue, nil
}

// Suspend stops a device from leasing tasks until ResumeDevice; it finishes
// what it runs (POST /devices/{id}/suspend).
func (s *DevicesService) Suspend(ctx context.Context, id string) (*api.WorkerStateResponse, error) {
	return s.stateCall(ctx, id, "/suspend")
}

// Resume lets a suspended device lease again (POST /devices/{id}/resume).
func (s *DevicesService) Resume(ctx context.Context, id string) (*api.WorkerStateResponse, error) {
	return s.stateCall(ctx, id, "/resume")
}

func (s *DevicesService) stateCall(ctx context.Context, id, suffix string) (*api.WorkerStateResponse, error) {
	path, err := itemPath("devices", id, suffix)
	if err != nil {
		return nil, err
	}
	var out api.WorkerStateResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
