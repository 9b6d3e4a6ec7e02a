package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/settings"
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

func (s *Server) observeRoutes() []httpapi.Route {
	return slices.Concat(s.metricsRoutes(), s.logRoutes(), s.streamRoutes(), s.configRoutes(), []httpapi.Route{
		{Method: "GET", Path: "/openapi.json", Access: httpapi.Public, Tag: "observability", Summary: "This document",
			Raw: "application/json", Handler: s.openAPI},
	})
}
