package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drover-run/drover/api"
)

// httpPayload is the payload of "http".
type httpPayload struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"` // default GET
	Headers map[string]string `json:"headers"`
	// Body is sent as is when a JSON string, else as the JSON text (with
	// Content-Type application/json unless the headers set one).
	Body         json.RawMessage `json:"body"`
	ExpectStatus int             `json:"expect_status"` // 0: any status below 400
}

// httpData is result.data of "http".
type httpData struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Truncated bool              `json:"truncated,omitempty"` // the body was longer than the output cap
}

// httpExec runs "http" tasks with a client of its own: it shares no
// connection, header or credential with the worker's server client.
type httpExec struct {
	allow  []netip.Prefix
	once   sync.Once
	client *http.Client
}

func newHTTPExec(allow []netip.Prefix) *httpExec { return &httpExec{allow: allow} }

func (e *httpExec) httpClient() *http.Client {
	e.once.Do(func() { // lazily: an idle worker should not carry it
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 8
		t.IdleConnTimeout = 30 * time.Second
		t.Proxy = nil // a proxy would dial for us, past the destination check
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: e.checkDial}
		t.DialContext = d.DialContext
		e.client = &http.Client{Transport: t}
	})
	return e.client
}

// checkDial refuses a connection to an address an http task may not reach
// (Config.HTTPAllow). It runs on the address about to be dialed, after DNS.
func (e *httpExec) checkDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("http: refusing to dial %s: %v", address, err)
	}
	ip := ap.Addr().Unmap()
	if !internalAddr(ip) {
		return nil
	}
	for _, p := range e.allow {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("http: %s is a loopback, private, link-local or otherwise internal address; "+
		"the worker reaches it only if started with --http-allow covering it", ip)
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internalAddr reports whether ip is not a public internet address.
func internalAddr(ip netip.Addr) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip) ||
		!ip.IsGlobalUnicast()
}

func (e *httpExec) run(ctx context.Context, t *Task) (*api.TaskResult, error) {
	var p httpPayload
	if err := decodePayload(t, &p); err != nil {
		return nil, err
	}
	req, err := p.request(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := e.httpClient().Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		return nil, fmt.Errorf("http: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput+1))
	if err != nil {
		return nil, fmt.Errorf("http: reading the body: %w", err)
	}
	data := httpData{Status: resp.StatusCode, Headers: make(map[string]string, len(resp.Header))}
	for k, v := range resp.Header {
		data.Headers[k] = strings.Join(v, ", ")
	}
	if len(body) > maxOutput {
		body, data.Truncated = body[:maxOutput], true
	}
	raw, _ := json.Marshal(data)
	res := &api.TaskResult{Output: string(body), Data: raw}
	switch {
	case p.ExpectStatus != 0 && resp.StatusCode != p.ExpectStatus:
		return res, fmt.Errorf("http: status %d, expected %d", resp.StatusCode, p.ExpectStatus)
	case p.ExpectStatus == 0 && resp.StatusCode >= 400:
		return res, fmt.Errorf("http: status %d", resp.StatusCode)
	}
	return res, nil
}

// request validates the payload and builds its request.
func (p *httpPayload) request(ctx context.Context) (*http.Request, error) {
	u, err := url.Parse(p.URL)
	if p.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf(`invalid http payload: "url" must be an http or https URL, not %q`, p.URL)
	}
	method := strings.ToUpper(p.Method)
	if method == "" {
		method = http.MethodGet
	}
	if strings.ContainsFunc(method, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		return nil, fmt.Errorf(`invalid http payload: "method" %q is not an HTTP method`, p.Method)
	}
	if p.ExpectStatus != 0 && (p.ExpectStatus < 100 || p.ExpectStatus > 599) {
		return nil, errors.New(`invalid http payload: "expect_status" must be between 100 and 599`)
	}
	var body io.Reader
	jsonBody := false
	if b := bytes.TrimSpace(p.Body); len(b) > 0 && !bytes.Equal(b, []byte("null")) {
		var s string
		if json.Unmarshal(b, &s) == nil {
			body = strings.NewReader(s)
		} else {
			body, jsonBody = bytes.NewReader(b), true
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("invalid http payload: %v", err)
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	if jsonBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}
