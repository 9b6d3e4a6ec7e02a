package worker

import (
	"context"
	"net/http"
	"time"

	"github.com/drover-run/drover/api"
)

// controlWait is how long the worker asks the server to hold a control poll.
const controlWait = 25 * time.Second

// controlLoop keeps the control channel's long-poll open (see
// docs/worker-protocol.md): it answers pings at once and applies stop
// orders without waiting for the next heartbeat. Against a server without
// the channel (404) it stops: heartbeats carry stop orders anyway.
func (w *Worker) controlLoop(ctx context.Context) {
	bo := newBackoff()
	for ctx.Err() == nil {
		s := w.session()
		resp, err := w.client.control(ctx, s.cred, &api.ControlRequest{Wait: api.MillisOf(controlWait)})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if ce, ok := err.(*callError); ok && ce.Status == http.StatusNotFound {
				w.log.Info("the server has no control channel; relying on heartbeats")
				return
			}
			// An unknown worker re-registers through its heartbeats.
			if !sleep(ctx, bo.next()) {
				return
			}
			continue
		}
		bo.reset()
		if len(resp.Pings) > 0 {
			ids := make([]string, len(resp.Pings))
			for i, p := range resp.Pings {
				ids[i] = p.ID
			}
			if err := w.client.pong(ctx, s.cred, &api.PongRequest{IDs: ids}); err != nil && ctx.Err() == nil {
				w.log.Debug("pong failed", "err", err)
			}
		}
		for _, o := range resp.Stop {
			w.stopTask(o)
		}
	}
}

func (c *agentClient) control(ctx context.Context, cred string, req *api.ControlRequest) (*api.ControlResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, req.Wait.Duration()+callTimeout)
	defer cancel()
	var resp api.ControlResponse
	err := c.call(ctx, api.AgentControlPath, cred, req, &resp)
	return &resp, err
}

func (c *agentClient) pong(ctx context.Context, cred string, req *api.PongRequest) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return c.call(ctx, api.AgentPongPath, cred, req, nil)
}
