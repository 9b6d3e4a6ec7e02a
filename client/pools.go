package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/drover-run/drover/api"
)

// PoolsService manages pools of workers with a desired size: /api/v1/pools.
// Creating, changing and deleting a pool needs an admin key when the server
// runs with --auth; scaling one needs write.
type PoolsService struct{ c *Client }

func poolPath(id int64, suffix string) (string, error) {
	return itemPath("pools", strconv.FormatInt(id, 10), suffix)
}

// Create makes a pool (POST /pools); its workers start in the background.
func (s *PoolsService) Create(ctx context.Context, req api.CreatePoolRequest) (*api.Pool, error) {
	var out api.PoolResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: apiPrefix + "/pools", body: req}, &out); err != nil {
		return nil, err
	}
	return &out.Pool, nil
}

// List lists the pools with their live workers (GET /pools).
func (s *PoolsService) List(ctx context.Context) (*api.PoolList, error) {
	var out api.PoolList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/pools"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns a pool and its live workers (GET /pools/{id}).
func (s *PoolsService) Get(ctx context.Context, id int64) (*api.Pool, error) {
	return s.one(ctx, http.MethodGet, id, "", nil)
}

// Update changes some of a pool's settings (PATCH /pools/{id}).
func (s *PoolsService) Update(ctx context.Context, id int64, req api.UpdatePoolRequest) (*api.Pool, error) {
	return s.one(ctx, http.MethodPatch, id, "", req)
}

// Scale sets a pool's desired size (POST /pools/{id}/scale); changed is
// false when the pool already had that size.
func (s *PoolsService) Scale(ctx context.Context, id int64, points int, reason string) (pool *api.Pool, changed bool, err error) {
	path, err := poolPath(id, "/scale")
	if err != nil {
		return nil, false, err
	}
	var out api.PoolResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: path, body: api.ScalePoolRequest{Points: points, Reason: reason}}, &out); err != nil {
		return nil, false, err
	}
	return &out.Pool, out.Changed != nil && *out.Changed, nil
}

// Delete deletes a pool (DELETE /pools/{id}); its workers drain and stop.
func (s *PoolsService) Delete(ctx context.Context, id int64) error {
	path, err := poolPath(id, "")
	if err != nil {
		return err
	}
	return s.c.call(ctx, request{method: http.MethodDelete, path: path}, &api.DeletePoolResponse{})
}

// Events lists a pool's scaling history, newest first (GET /pools/{id}/events).
func (s *PoolsService) Events(ctx context.Context, id int64, limit int) (*api.PoolEventList, error) {
	path, err := poolPath(id, "/events")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.PoolEventList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: path, query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (s *PoolsService) one(ctx context.Context, method string, id int64, suffix string, body any) (*api.Pool, error) {
	path, err := poolPath(id, suffix)
	if err != nil {
		return nil, err
	}
	var out api.PoolResponse
	if err := s.c.call(ctx, request{method: method, path: path, body: body}, &out); err != nil {
		return nil, err
	}
	return &out.Pool, nil
}
