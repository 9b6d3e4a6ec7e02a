package server

import (
	"encoding/json"
	"net/http"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/settings"
)

func (s *Server) configRoutes() []httpapi.Route {
	get := httpapi.Route{Tag: "config", Response: api.ConfigResponse{}, Handler: s.getConfig}
	put := httpapi.Route{Access: httpapi.Admin, Tag: "config", Request: api.Config{}, Partial: true,
		Response: api.ConfigUpdateResponse{}, Handler: s.putConfig}
	route := func(r httpapi.Route, method, path, id, summary string) httpapi.Route {
		r.Method, r.Path, r.ID, r.Summary = method, path, id, summary
		return r
	}
	// /cluster/config is the path document 001's auth example uses.
	return []httpapi.Route{
		route(get, "GET", "/api/v1/config", "getConfig", "The cluster configuration"),
		route(put, "PUT", "/api/v1/config", "putConfig", "Change part of the configuration; every field is validated, nothing changes on an error"),
		route(get, "GET", "/api/v1/cluster/config", "getClusterConfig", "The cluster configuration (alias of /api/v1/config)"),
		route(put, "PUT", "/api/v1/cluster/config", "putClusterConfig", "Change the configuration (alias of /api/v1/config)"),
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
