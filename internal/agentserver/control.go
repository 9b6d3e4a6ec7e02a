package agentserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
)

// The control channel (docs/worker-protocol.md, "Control channel"): each
// worker keeps a long-poll open on /agent/v1/control; the control plane
// puts pings and stop orders in the worker's mailbox, and the poll answers
// with them at once. Pings are answered on /agent/v1/pong; a ping's round
// trip is from the moment its poll answer is written to the pong's arrival.
//
// Mailboxes live in the memory of the server the worker's control poll is
// connected to. With several servers on one store, a ping or stop order for
// a worker connected elsewhere goes through the store's relay (PostgreSQL
// NOTIFY, see SetRelay): every server hears it, the one holding the poll
// delivers it, and a ping's measured round trip comes back the same way.
// Heartbeats still carry every stop order, whatever becomes of the relay.

const (
	maxControlWait = 30 * time.Second
	mailboxSize    = 64
)

// ErrNotConnected is a ping to a worker whose control poll is not open
// here in time.
var ErrNotConnected = errors.New("agentserver: the worker's control channel is not connected to this server")

// Control is the control plane's side of the control channel.
type Control struct {
	mu       sync.Mutex
	boxes    map[string]chan controlMsg // by worker id
	pending  map[string]*pendingPing    // by ping id
	polls    map[string]int             // open control polls here, by worker id
	lastPoll map[string]time.Time       // when a worker's last poll here ended

	revokers []func(worker string) // drop a worker's cached credentials here (credentials.go)

	relay   func(ctx context.Context, msg []byte) error // nil: a single server
	origin  string                                      // this server, in relayed messages
	relayed map[string]chan time.Duration               // relayed pings awaiting their pong, by id
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
	return &Control{
		boxes: map[string]chan controlMsg{}, pending: map[string]*pendingPing{},
		polls: map[string]int{}, lastPoll: map[string]time.Time{},
		origin: domain.NewSecret(8), relayed: map[string]chan time.Duration{},
	}
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

// Forget drops a worker's mailbox and revokes its cached credentials (it
// was removed): at once here, and on the other servers through the relay.
func (c *Control) Forget(worker string) {
	c.mu.Lock()
	delete(c.boxes, worker)
	delete(c.lastPoll, worker)
	c.mu.Unlock()
	c.revoke(worker)
}

// revoke drops every credential of worker this server has cached, and has
// the other servers sharing the store drop theirs, in the background (it
// runs in the engine's hooks, which must not wait on the database). A lost
// relay message leaves another server trusting its cached copy until the
// worker's next heartbeat there, which the store refuses (see
// credentialCache).
func (c *Control) revoke(worker string) {
	c.revokeHere(worker)
	if c.relay != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			c.send(ctx, relayMsg{Kind: "revoke", Worker: worker})
		}()
	}
}

func (c *Control) revokeHere(worker string) {
	c.mu.Lock()
	revokers := c.revokers
	c.mu.Unlock()
	for _, f := range revokers {
		f(worker)
	}
}

// onRevoke has f called with every worker whose credentials are revoked.
func (c *Control) onRevoke(f func(worker string)) {
	c.mu.Lock()
	c.revokers = append(c.revokers, f)
	c.mu.Unlock()
}

// reconnectGrace is how long after its last control poll here ended a
// worker still counts as connected here: it polls again at once.
const reconnectGrace = 2 * time.Second

// local reports whether worker's control poll is connected to this server.
func (c *Control) local(worker string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.polls[worker] > 0 || time.Since(c.lastPoll[worker]) < reconnectGrace
}

func (c *Control) pollBegins(worker string) {
	c.mu.Lock()
	c.polls[worker]++
	c.mu.Unlock()
}

func (c *Control) pollEnds(worker string) {
	c.mu.Lock()
	if c.polls[worker]--; c.polls[worker] <= 0 {
		delete(c.polls, worker)
	}
	c.lastPoll[worker] = time.Now()
	c.mu.Unlock()
}

// Stop tells a worker, through its control poll, to abandon a lease at
// once. It never blocks; a full mailbox drops the order (the next
// heartbeat carries it anyway).
func (c *Control) Stop(worker string, o api.StopOrder) {
	if !c.local(worker) && c.relay != nil {
		// Relayed in the background: Stop is called from the engine's
		// hooks, which must not wait on the database.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			c.send(ctx, relayMsg{Kind: "stop", Worker: worker, Stop: &o})
		}()
		return
	}
	c.deliverStop(worker, o)
}

func (c *Control) deliverStop(worker string, o api.StopOrder) {
	select {
	case c.box(worker) <- controlMsg{stop: &o}:
	default:
	}
}

// Ping sends one probe to worker and waits up to timeout for its pong.
// A worker connected to another server is pinged through the relay.
func (c *Control) Ping(ctx context.Context, worker string, timeout time.Duration) (time.Duration, error) {
	if !c.local(worker) && c.relay != nil {
		return c.pingRelayed(ctx, worker, timeout)
	}
	return c.pingLocal(ctx, worker, timeout)
}

func (c *Control) pingLocal(ctx context.Context, worker string, timeout time.Duration) (time.Duration, error) {
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
	if err := httpapi.Decode(w, r, &req, true); err != nil {
		return err
	}
	if req.Wait < 0 {
		return domain.Errorf(domain.CodeValidation, "wait_ms must not be negative")
	}
	s.ctl.pollBegins(wk.ID)
	msgs := s.ctl.collect(r.Context(), wk.ID, min(req.Wait.Duration(), maxControlWait))
	defer s.ctl.pollEnds(wk.ID)
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
	envelope.OK(w, r, out, "")
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
	if err := httpapi.Decode(w, r, &req, false); err != nil {
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
	envelope.OK(w, r, map[string]int{"accepted": len(req.IDs)}, "")
	return nil
}

// relayMsg is a control message between servers.
type relayMsg struct {
	Kind    string         `json:"kind"` // "ping", "pong", "stop" or "revoke"
	Origin  string         `json:"origin"`
	ID      string         `json:"id,omitempty"`
	Worker  string         `json:"worker,omitempty"`
	Timeout api.Millis     `json:"timeout_ms,omitempty"`
	RTT     int64          `json:"rtt_us,omitempty"`
	OK      bool           `json:"ok,omitempty"`
	Stop    *api.StopOrder `json:"stop,omitempty"`
}

// SetRelay connects the control channel to the other servers sharing the
// store: publish sends a message to all of them, and every message they
// send must be handed to Relayed. Call it before serving.
func (c *Control) SetRelay(publish func(ctx context.Context, msg []byte) error) {
	c.relay = publish
}

func (c *Control) send(ctx context.Context, m relayMsg) {
	m.Origin = c.origin
	raw, err := json.Marshal(m)
	if err == nil {
		err = c.relay(ctx, raw)
	}
	_ = err // a lost relay message is a lost probe, which the caller's timeout reports
}

// pingRelayed asks whichever server holds worker's control poll to ping it.
func (c *Control) pingRelayed(ctx context.Context, worker string, timeout time.Duration) (time.Duration, error) {
	id := domain.NewSecret(8)
	answer := make(chan time.Duration, 1)
	c.mu.Lock()
	c.relayed[id] = answer
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.relayed, id)
		c.mu.Unlock()
	}()
	c.send(ctx, relayMsg{Kind: "ping", ID: id, Worker: worker, Timeout: api.MillisOf(timeout)})
	t := time.NewTimer(timeout + 500*time.Millisecond) // the relay's own two hops
	defer t.Stop()
	select {
	case rtt := <-answer:
		if rtt < 0 {
			return 0, ErrNotConnected
		}
		return rtt, nil
	case <-t.C:
		return 0, ErrNotConnected
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Relayed handles a message another server (or this one) relayed: a ping
// or stop order for a worker connected here is delivered, a pong is matched
// with the ping waiting for it, a revocation drops cached credentials.
// Pings and stops for workers connected elsewhere are none of this
// server's business.
func (c *Control) Relayed(raw []byte) {
	var m relayMsg
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	switch m.Kind {
	case "ping":
		if !c.local(m.Worker) {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), m.Timeout.Duration()+time.Second)
			defer cancel()
			rtt, err := c.pingLocal(ctx, m.Worker, m.Timeout.Duration())
			reply := relayMsg{Kind: "pong", ID: m.ID, RTT: rtt.Microseconds(), OK: err == nil}
			c.send(ctx, reply)
		}()
	case "pong":
		c.mu.Lock()
		answer := c.relayed[m.ID]
		c.mu.Unlock()
		if answer == nil {
			return
		}
		rtt := time.Duration(m.RTT) * time.Microsecond
		if !m.OK {
			rtt = -1
		}
		select {
		case answer <- rtt:
		default:
		}
	case "stop":
		if m.Stop != nil && m.Origin != c.origin && c.local(m.Worker) {
			c.deliverStop(m.Worker, *m.Stop)
		}
	case "revoke":
		if m.Origin != c.origin {
			c.revokeHere(m.Worker)
		}
	}
}
