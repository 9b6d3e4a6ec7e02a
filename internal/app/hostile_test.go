package app

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/httpapi"
)

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.read}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// serveHostile serves a real API (auth off, as in drover dev) with the
// production http.Server settings, except the timeouts given.
func serveHostile(t *testing.T, readHeader, read time.Duration) (string, *countingListener) {
	t.Helper()
	s := start(t, Security{})
	srv := newHTTPServer(s.listeners[0].handler, slog.New(slog.DiscardHandler))
	srv.ReadHeaderTimeout, srv.ReadTimeout = readHeader, read
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), cl
}

// TestServerLimits pins the production settings the hostile tests rely on.
func TestServerLimits(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadHeaderTimeout > 10*time.Second || srv.ReadTimeout <= 0 ||
		srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 || srv.IdleTimeout <= 0 {
		t.Errorf("http.Server limits: ReadHeaderTimeout %v, ReadTimeout %v, MaxHeaderBytes %d, IdleTimeout %v",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.MaxHeaderBytes, srv.IdleTimeout)
	}
}

// waitClosed reads from c until the server closes it, or fails after max.
func waitClosed(t *testing.T, c net.Conn, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(max))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept a hostile connection open for %v", max)
	}
	return time.Since(start)
}

// TestSlowloris is S7's slow-header case: connections that send headers
// byte by byte are closed at ReadHeaderTimeout, and a normal client is
// served meanwhile.
func TestSlowloris(t *testing.T) {
	t.Parallel()
	addr, _ := serveHostile(t, 300*time.Millisecond, time.Second)
	var conns []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		conns = append(conns, c)
	}
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a normal client during the attack: %v, %v", resp, err)
	}
	resp.Body.Close()
	for _, c := range conns {
		waitClosed(t, c, 300*time.Millisecond+time.Second)
	}
}

// TestSlowBody: a body trickling in is cut at ReadTimeout.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	addr, _ := serveHostile(t, time.Second, 500*time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	waitClosed(t, c, 500*time.Millisecond+2*time.Second)
}

// TestOversizedBody: a 10 MiB body is refused with 413 after the server
// read little more than the 1 MiB cap.
func TestOversizedBody(t *testing.T) {
	t.Parallel()
	addr, cl := serveHostile(t, time.Second, 10*time.Second)
	body := `{"task_type":"echo","payload":{"message":"` + strings.Repeat("a", 10<<20) + `"}}`
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		io.WriteString(c, "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
		io.WriteString(c, body) // fails once the server closes: fine
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "PAYLOAD_TOO_LARGE") {
		t.Errorf("10 MiB body: %d %s, want 413 PAYLOAD_TOO_LARGE", resp.StatusCode, b)
	}
	// net/http may read up to 256 KiB more to let the client see the answer.
	if n := cl.read.Load(); n > (1<<20)+(512<<10) {
		t.Errorf("the server read %d bytes of a 10 MiB body, want about the 1 MiB cap", n)
	}
}

// TestHeaderOverBudget: headers over the budget but under net/http's hard
// cap are answered 431 in each listener's own error format, with a request
// id where the format has one.
func TestHeaderOverBudget(t *testing.T) {
	t.Parallel()
	s := start(t, Security{})
	for _, l := range s.listeners {
		t.Run(l.name, func(t *testing.T) {
			srv := newHTTPServer(l.handler, slog.New(slog.DiscardHandler))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			for _, size := range []int{httpapi.MaxHeaderBytes - 1024, httpapi.MaxHeaderBytes + 1, httpapi.HardMaxHeaderBytes - 1024} {
				req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/no-such-route", nil)
				req.Header.Set("X-Big", strings.Repeat("a", size))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%d-byte header: %v", size, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if size < httpapi.MaxHeaderBytes {
					if resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
						t.Errorf("%d-byte header, under the budget: 431", size)
					}
					continue
				}
				if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					t.Fatalf("%d-byte header: %d %s %.200s, want 431 JSON", size, resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
				var answer map[string]any
				if err := json.Unmarshal(body, &answer); err != nil {
					t.Fatalf("%d-byte header: %v in %.200s", size, err, body)
				}
				if !strings.Contains(string(body), "HEADER_TOO_LARGE") {
					t.Errorf("%d-byte header: %s, want code HEADER_TOO_LARGE", size, body)
				}
				if resp.Header.Get("X-Request-ID") == "" {
					t.Errorf("%d-byte header: no X-Request-ID", size)
				}
				if l.name == "api" || l.name == "agent" {
					var env api.Envelope
					if err := json.Unmarshal(body, &env); err != nil || env.Error == nil || env.Error.Code != "HEADER_TOO_LARGE" ||
						env.Error.Message == "" || env.RequestID != resp.Header.Get("X-Request-ID") {
						t.Errorf("%d-byte header: %s, want the 001 error envelope with code, message and request_id", size, body)
					}
				}
			}
		})
	}
}

// TestHugeHeader: a 2 MiB header, beyond the hard cap, is still 431 (from
// net/http, in plain text: it stops reading before any handler runs).
func TestHugeHeader(t *testing.T) {
	t.Parallel()
	addr, _ := serveHostile(t, 5*time.Second, 5*time.Second)
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/tasks", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2<<20))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("huge header: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("2 MiB header: %d, want 431", resp.StatusCode)
	}
}

// TestDeepJSON: nesting 100,000 deep is a 400, not a crash; a 1 MiB string
// is refused by the cap or the payload limit, never a 5xx.
func TestDeepJSON(t *testing.T) {
	t.Parallel()
	s := start(t, Security{})
	for name, body := range map[string]string{
		"deep array":  `{"task_type":"echo","payload":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`,
		"deep object": strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000),
		"big string":  `{"task_type":"echo","payload":{"message":"` + strings.Repeat("x", 1<<20-64) + `"}}`,
	} {
		status, _, b := call(t, "POST", s.APIURL()+"/api/v1/tasks", "", body)
		if status/100 != 4 {
			t.Errorf("%s: %d %.200s, want a 4xx", name, status, b)
		}
	}
	if status, _, _ := call(t, "GET", s.APIURL()+"/health", "", ""); status != http.StatusOK {
		t.Errorf("the server is unwell after hostile bodies: %d", status)
	}
}

// TestTLS is S8's listener part: every listener speaks TLS with
// --tls-cert/--tls-key; a client with the CA connects, one without does
// not, TLS 1.1 is refused; plain HTTP off loopback needs --insecure.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caPEM, certFile, keyFile := writeCerts(t, dir)
	s := start(t, Security{TLSCert: certFile, TLSKey: keyFile})
	if !strings.HasPrefix(s.APIURL(), "https://") || !strings.HasPrefix(s.AgentURL(), "https://") {
		t.Fatalf("URLs %s, %s: want https", s.APIURL(), s.AgentURL())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	good := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, u := range []string{s.APIURL() + "/health", s.AgentURL() + "/health"} {
		resp, err := good.Get(u)
		if err != nil {
			t.Fatalf("GET %s with the CA: %v", u, err)
		}
		resp.Body.Close()
		var unknown x509.UnknownAuthorityError
		if _, err := http.Get(u); !errors.As(err, &unknown) {
			t.Errorf("GET %s without the CA: %v, want an unknown-authority error", u, err)
		}
		old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
		if _, err := old.Get(u); err == nil {
			t.Errorf("GET %s over TLS 1.1 succeeded", u)
		}
	}
	for _, tc := range []struct {
		host string
		sec  Security
		ok   bool
	}{
		{"127.0.0.1", Security{}, true},
		{"0.0.0.0", Security{}, false},
		{"0.0.0.0", Security{Insecure: true}, true},
		{"0.0.0.0", Security{TLSCert: certFile, TLSKey: keyFile}, true},
		{"127.0.0.1", Security{TLSCert: certFile}, false},
	} {
		err := ServerConfig{Host: tc.host, Security: tc.sec}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate(host %s, %+v) = %v, want ok %v", tc.host, tc.sec, err, tc.ok)
		}
	}
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T, dir string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drover test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server.drover"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile
}

// TestIdleConnectionsCannotStarveTheAPI: one client holding a thousand
// kept-alive connections (the whole server.max_connections) does not keep an
// authenticated request waiting: idle connections make room for new ones.
func TestIdleConnectionsCannotStarveTheAPI(t *testing.T) {
	t.Parallel()
	s := start(t, authOn())
	addr := strings.TrimPrefix(s.APIURL(), "http://")
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for range 1000 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		fmt.Fprint(c, "GET /health HTTP/1.1\r\nHost: drover\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatalf("the idle clients' own requests: %v", err)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", s.APIURL()+"/api/v1/cluster/status", nil)
	req.Header.Set("X-API-Key", seedKey)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("an authenticated request beside 1,000 idle connections: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("an authenticated request beside 1,000 idle connections: %d", resp.StatusCode)
	}
}
