package agentserver

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/web"
)

// The control channel (docs/worker-protocol.md, "Control channel"): each
// worker keeps a long-poll open on /agent/v1/control; the control plane
// puts pings and stop orders in the worker's mailbox, and the poll answers
// with them at once. Pings are answered on /agent/v1/pong; a ping's round
// trip is from the moment its poll answer is written to the pong's arrival.
//
// Mailboxes live in this server's memory: a worker is reached through the
// server its control poll is connected to. (With several servers behind a
// load balancer, a ping or stop order that lands on another server is not
// routed to it; heartbeats still carry every stop order.)

const (
	maxControlWait = 30 * time.Second
	mailboxSize    = 64
)

// ErrNotConnected is a ping to a worker whose control poll is not open
// here in time.
var ErrNotConnected = errors.New("agentserver: the worker's control channel is not connected to this server")

// Control is the control plane's side of the control channel.
type Control struct {
	mu      sync.Mutex
	boxes   map[string]chan controlMsg // by worker id
	pending map[string]*pendingPing    // by ping id
}

type controlMsg struct {
	ping *pendingPing
	stop *api.StopOrder
}

type pendingPing struct {
	id     string
	worker string
	sent   chan time.Time // cap 1: when the poll answer carrying it was written
	pong   chan time.Time // cap 1: when the pong arrived
}

// NewControl makes an empty control channel.
func NewControl() *Control {
	return &Control{boxes: map[string]chan controlMsg{}, pending: map[string]*pendingPing{}}
}

func (c *Control) box(worker string) chan controlMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.boxes[worker]
	if b == nil {
		b = make(chan controlMsg, mailboxSize)
		c.boxes[worker] = b
	}
	return b
}

// Forget drops a worker's mailbox (it was removed).
func (c *Control) Forget(worker string) {
	c.mu.Lock()
	delete(c.boxes, worker)
	c.mu.Unlock()
}

// Stop tells a worker, through its control poll, to abandon a lease at
// once. It never blocks; a full mailbox drops the order (the next
// heartbeat carries it anyway).
func (c *Control) Stop(worker string, o api.StopOrder) {
	select {
	case c.box(worker) <- controlMsg{stop: &o}:
	default:
	}
}

// Ping sends one probe to worker and waits up to timeout for its pong.
func (c *Control) Ping(ctx context.Context, worker string, timeout time.Duration) (time.Duration, error) {
	p := &pendingPing{id: domain.NewSecret(8), worker: worker, sent: make(chan time.Time, 1), pong: make(chan time.Time, 1)}
	c.mu.Lock()
	c.pending[p.id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, p.id)
		c.mu.Unlock()
	}()
	select {
	case c.box(worker) <- controlMsg{ping: p}:
	default:
		return 0, ErrNotConnected
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var sent time.Time
	for {
		select {
		case sent = <-p.sent:
		case got := <-p.pong:
			if sent.IsZero() {
				sent = <-p.sent // written before the worker could read it
			}
			return got.Sub(sent), nil
		case <-t.C:
			return 0, ErrNotConnected
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// collect waits up to wait for messages for worker, then takes every one
// waiting.
func (c *Control) collect(ctx context.Context, worker string, wait time.Duration) []controlMsg {
	b := c.box(worker)
	t := time.NewTimer(wait)
	defer t.Stop()
	var out []controlMsg
	select {
	case m := <-b:
		out = append(out, m)
	case <-t.C:
		return nil
	case <-ctx.Done():
		return nil
	}
	for {
		select {
		case m := <-b:
			out = append(out, m)
		default:
			return out
		}
	}
}

func (s *Server) control(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	var req api.ControlRequest
	if err := web.Decode(w, r, &req, true); err != nil {
		return err
	}
	if req.Wait < 0 {
		return domain.Errorf(domain.CodeValidation, "wait_ms must not be negative")
	}
	msgs := s.ctl.collect(r.Context(), wk.ID, min(req.Wait.Duration(), maxControlWait))
	out := api.ControlResponse{Pings: []api.PingOrder{}, Stop: []api.StopOrder{}}
	var pings []*pendingPing
	now := time.Now()
	for _, m := range msgs {
		switch {
		case m.ping != nil:
			out.Pings = append(out.Pings, api.PingOrder{ID: m.ping.id, SentAt: now.UTC()})
			pings = append(pings, m.ping)
		case m.stop != nil:
			out.Stop = append(out.Stop, *m.stop)
		}
	}
	web.WriteJSON(w, r, http.StatusOK, out)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	sent := time.Now()
	for _, p := range pings {
		p.sent <- sent
	}
	return nil
}

func (s *Server) pong(w http.ResponseWriter, r *http.Request, wk *domain.Worker) error {
	at := time.Now()
	var req api.PongRequest
	if err := web.Decode(w, r, &req, false); err != nil {
		return err
	}
	s.ctl.mu.Lock()
	for _, id := range req.IDs {
		if p := s.ctl.pending[id]; p != nil && p.worker == wk.ID {
			select {
			case p.pong <- at:
			default:
			}
		}
	}
	s.ctl.mu.Unlock()
	web.WriteJSON(w, r, http.StatusOK, map[string]int{"accepted": len(req.IDs)})
	return nil
}
