package api

import "time"

// The worker protocol's control channel: the worker keeps a long-poll open
// on AgentControlPath; the server answers it, at once, with anything it
// must tell the worker between heartbeats (pings, stop orders for
// cancelled tasks). The worker answers pings on AgentPongPath and polls
// again. A server without the channel answers 404: the worker then relies
// on heartbeats alone.
const (
	AgentControlPath = "/agent/v1/control"
	AgentPongPath    = "/agent/v1/pong"
)

// ControlRequest opens one long-poll of the control channel.
type ControlRequest struct {
	Wait Millis `json:"wait_ms"` // how long the server may hold the poll; capped at 30s
}

// PingOrder asks the worker to answer at once with a PongRequest.
type PingOrder struct {
	ID     string    `json:"id"`
	SentAt time.Time `json:"sent_at"`
}

// ControlResponse carries what the server has for the worker; both lists
// are empty when the wait ended with nothing to say.
type ControlResponse struct {
	Pings []PingOrder `json:"pings"`
	Stop  []StopOrder `json:"stop"`
}

// PongRequest answers pings.
type PongRequest struct {
	IDs []string `json:"ids"`
}
