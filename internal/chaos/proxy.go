package chaos

import (
	"net"
	"sync"
	"time"
)

// proxy forwards TCP connections from one worker to the server's worker
// protocol. Black-holed, it stops forwarding without closing anything: the
// worker's requests and the server's answers vanish, as on a network
// partition, until it opens again (R2's black-holed connection).
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	open  chan struct{} // closed while forwarding
	conns map[net.Conn]struct{}
}

func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.open)
	go p.serve()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// blackHole stops forwarding for d.
func (p *proxy) blackHole(d time.Duration) {
	p.mu.Lock()
	p.open = make(chan struct{})
	gate := p.open
	p.mu.Unlock()
	time.AfterFunc(d, func() { close(gate) })
}

func (p *proxy) gate() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(in)
	}
}

func (p *proxy) pipe(in net.Conn) {
	p.track(in, true)
	defer p.track(in, false)
	defer in.Close()
	<-p.gate() // a connection opened into the black hole goes nowhere either
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.track(out, true)
	defer p.track(out, false)
	defer out.Close()
	done := make(chan struct{}, 2)
	go func() { p.copy(out, in); done <- struct{}{} }()
	go func() { p.copy(in, out); done <- struct{}{} }()
	<-done
}

// copy forwards src to dst, holding each chunk while the proxy is
// black-holed.
func (p *proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // either side closing ends the pair: HTTP needs no half-close
		}
	}
}
