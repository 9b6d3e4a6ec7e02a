package client

import (
	"context"
	"net/http"

	"github.com/drover-run/drover/api"
)

// ClusterService reads the state of the whole cluster: /api/v1/cluster.
type ClusterService struct{ c *Client }

// Status returns the cluster summary: devices, resources, roles and tasks
// (GET /cluster/status).
func (s *ClusterService) Status(ctx context.Context) (*api.ClusterStats, error) {
	var out api.ClusterStatus
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/cluster/status"}, &out); err != nil {
		return nil, err
	}
	return &out.ClusterStats, nil
}

// Health returns the health of the cluster's components (GET /cluster/health).
func (s *ClusterService) Health(ctx context.Context) (*api.ClusterHealth, error) {
	var out api.ClusterHealth
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/cluster/health"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
