package app

import (
	"net"
	"net/http"
	"slices"
	"sync"
)

// connGuard bounds the connections of a listener so that no client can
// take the API away from the others (docs/guarantees.md, G14): at most max
// open at once (server.max_connections), and at most perAddr from one
// address. A connection past either bound first makes room by closing an
// idle keep-alive connection — the oldest of its own address, else the
// oldest of any — and is refused (closed at once) only when every
// connection in its way is busy. A client that holds a thousand idle
// connections thus never keeps anyone else waiting, and a busy one is
// bounded by the server's read timeouts.
type connGuard struct {
	net.Listener
	max, perAddr int

	mu     sync.Mutex
	conns  map[string]*guardedConn // by remote address (ip:port), unique per connection
	byAddr map[string]int          // open connections per ip
	order  []*guardedConn          // in accept order, for "oldest idle"
}

type guardedConn struct {
	net.Conn
	g    *connGuard
	ip   string
	idle bool // between requests of a keep-alive connection
	once sync.Once
}

// guardConns wraps ln; max <= 0 leaves it unbounded. srv's ConnState must
// be guard.track for idle connections to be known.
func guardConns(ln net.Listener, max int) *connGuard {
	perAddr := max / 4
	if perAddr < 8 {
		perAddr = min(8, max)
	}
	return &connGuard{Listener: ln, max: max, perAddr: perAddr, conns: map[string]*guardedConn{}, byAddr: map[string]int{}}
}

func (g *connGuard) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc := g.admit(c); gc != nil {
			return gc, nil
		}
		c.Close() // refused: every connection in its way is busy
	}
}

// admit registers c, closing idle connections to make room; nil refuses it.
func (g *connGuard) admit(c net.Conn) *guardedConn {
	ip := hostOf(c.RemoteAddr())
	var evict []*guardedConn
	g.mu.Lock()
	for g.max > 0 {
		overIP := g.byAddr[ip]-countOf(evict, ip) >= g.perAddr
		overAll := len(g.conns)-len(evict) >= g.max
		if !overIP && !overAll {
			break
		}
		scope := "" // any address
		if overIP {
			scope = ip
		}
		v := g.oldestIdle(scope, evict)
		if v == nil {
			g.mu.Unlock()
			return nil
		}
		evict = append(evict, v)
	}
	gc := &guardedConn{Conn: c, g: g, ip: ip}
	g.conns[c.RemoteAddr().String()] = gc
	g.byAddr[ip]++
	g.order = append(g.order, gc)
	g.mu.Unlock()
	for _, v := range evict {
		v.Close()
	}
	return gc
}

// oldestIdle is the oldest idle connection (of ip, unless empty) not
// already chosen; g.mu is held.
func (g *connGuard) oldestIdle(ip string, chosen []*guardedConn) *guardedConn {
	for _, c := range g.order {
		if c.idle && (ip == "" || c.ip == ip) && !slices.Contains(chosen, c) {
			return c
		}
	}
	return nil
}

// track is the http.Server's ConnState hook: it learns which connections
// are idle between requests.
func (g *connGuard) track(c net.Conn, state http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gc := g.conns[c.RemoteAddr().String()]; gc != nil {
		gc.idle = state == http.StateIdle
	}
}

func (g *connGuard) release(gc *guardedConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, gc.RemoteAddr().String())
	if g.byAddr[gc.ip]--; g.byAddr[gc.ip] <= 0 {
		delete(g.byAddr, gc.ip)
	}
	for i, c := range g.order {
		if c == gc {
			g.order = append(g.order[:i], g.order[i+1:]...)
			break
		}
	}
}

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.g.release(c) })
	return err
}

func hostOf(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

func countOf(cs []*guardedConn, ip string) int {
	n := 0
	for _, c := range cs {
		if c.ip == ip {
			n++
		}
	}
	return n
}
