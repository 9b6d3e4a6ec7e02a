package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/drover-run/drover/api"
)

// DevicesService inspects and removes devices, the workers of the cluster:
// /api/v1/devices.
type DevicesService struct{ c *Client }

// DeviceListOptions filters GET /devices. Zero fields are left to the server.
type DeviceListOptions struct {
	Status string // online, offline or all
	Role   string // e.g. compute, mobile, storage
	Limit  int    // at most this many devices
}

// List returns the devices and how many are online and offline (GET /devices).
func (s *DevicesService) List(ctx context.Context, opts DeviceListOptions) (*api.DeviceList, error) {
	q := url.Values{}
	setString(q, "status", opts.Status)
	setString(q, "role", opts.Role)
	setInt(q, "limit", opts.Limit)
	var out api.DeviceList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/devices", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns one device in detail, with what it says of itself and its
// recent performance (GET /devices/{id}).
func (s *DevicesService) Get(ctx context.Context, id string) (*api.DeviceDetail, error) {
	path, err := itemPath("devices", id, "")
	if err != nil {
		return nil, err
	}
	var out api.DeviceDetailResponse
	if err := s.c.call(ctx, request{method: http.MethodGet, path: path}, &out); err != nil {
		return nil, err
	}
	return &out.Device, nil
}

// Remove deletes a device from the cluster (DELETE /devices/{id}). The
// server refuses a device with active tasks unless force is set, in which
// case those tasks are cancelled.
func (s *DevicesService) Remove(ctx context.Context, id string, force bool) (*api.RemoveDeviceResponse, error) {
	path, err := itemPath("devices", id, "")
	if err != nil {
		return nil, err
	}
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	var out api.RemoveDeviceResponse
	if err := s.c.call(ctx, request{method: http.MethodDelete, path: path, query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
