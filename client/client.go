package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
)

// apiPrefix is where the native API lives under the server root.
const apiPrefix = "/api/v1"

// DefaultPollInterval is how long Wait and FollowLogs pause between requests
// when nothing has changed, unless told otherwise.
const DefaultPollInterval = time.Second

// DefaultUserAgent is sent when WithUserAgent is not given.
const DefaultUserAgent = "drover-go-client"

// Client talks to one Drover server. Create it with New.
type Client struct {
	Tasks   *TasksService
	Devices *DevicesService
	Queues  *QueuesService
	Cluster *ClusterService
	Keys    *KeysService
	Pools   *PoolsService
	Monitor *MonitorService
	// Workflows and Runs are the workflow API (issue 9).
	Workflows *WorkflowsService
	Runs      *RunsService

	root         string // the server root as given to New, without a trailing slash or /api/v1
	httpClient   *http.Client
	apiKey       string
	signer       *signer // WithSigningKey
	userAgent    string
	pollInterval time.Duration
}

// An Option configures a Client.
type Option func(*Client)

// WithAPIKey authenticates every request with key, sent as X-API-Key. It
// replaces WithSigningKey.
func WithAPIKey(key string) Option {
	return func(c *Client) { c.apiKey, c.signer = key, nil }
}

// WithHTTPClient sends requests through hc instead of http.DefaultClient,
// e.g. to set a timeout, a proxy or TLS roots.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.httpClient = hc }
}

// WithUserAgent replaces the User-Agent header, DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithPollInterval sets how often Wait (when given no interval of its own)
// and FollowLogs ask again; the default is DefaultPollInterval.
func WithPollInterval(d time.Duration) Option {
	return func(c *Client) { c.pollInterval = d }
}

// New returns a client of the server at baseURL, its root such as
// "http://127.0.0.1:8081" (as in document 001's Python client). A baseURL
// ending in /api/v1 is accepted too, and a path prefix is kept, for servers
// behind a reverse proxy.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http:// or https:// and a host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: must not have a query or fragment", baseURL)
	}
	root := strings.TrimSuffix(u.String(), "/")
	root = strings.TrimSuffix(root, apiPrefix)

	c := &Client{
		root:         root,
		httpClient:   http.DefaultClient,
		userAgent:    DefaultUserAgent,
		pollInterval: DefaultPollInterval,
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.httpClient == nil {
		c.httpClient = http.DefaultClient
	}
	if c.pollInterval <= 0 {
		c.pollInterval = DefaultPollInterval
	}
	c.Tasks = &TasksService{c: c}
	c.Devices = &DevicesService{c: c}
	c.Queues = &QueuesService{c: c}
	c.Cluster = &ClusterService{c: c}
	c.Keys = &KeysService{c: c}
	c.Pools = &PoolsService{c: c}
	c.Monitor = &MonitorService{c: c}
	c.Workflows, c.Runs = &WorkflowsService{c: c}, &RunsService{c: c}
	return c, nil
}

// Health asks GET /health, the unauthenticated check that the API server is
// up. It sits outside /api/v1; an answer wrapped in the envelope and a bare
// object (as document 001's reference server sends) are both understood.
func (c *Client) Health(ctx context.Context) (*api.Health, error) {
	_, body, err := c.send(ctx, request{method: http.MethodGet, path: "/health"})
	if err != nil {
		return nil, err
	}
	var probe struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("client: GET /health: %w", err)
	}
	if probe.Status == "success" && len(probe.Data) > 0 {
		body = probe.Data
	}
	var h api.Health
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, fmt.Errorf("client: GET /health: %w", err)
	}
	return &h, nil
}

// request is one call of the API.
type request struct {
	method string
	path   string // below the server root, already escaped: "/api/v1/tasks/task-1"
	query  url.Values
	body   any // encoded as JSON when not nil
	header http.Header
}

// call sends r to the native API and decodes the envelope's data into out,
// which may be nil to drop it.
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, body, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("client: %s %s: answer is not a Drover envelope: %s", r.method, r.path, snippet(body))
	}
	switch env.Status {
	case "success":
	case "error": // an error in a 2xx answer is still an error
		return newError(resp, body)
	default:
		return fmt.Errorf("client: %s %s: answer is not a Drover envelope: %s", r.method, r.path, snippet(body))
	}
	if out == nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("client: %s %s: decode data: %w", r.method, r.path, err)
	}
	return nil
}

// envelope is the part of api.Envelope the SDK reads. It leaves the
// timestamp alone so that an odd one cannot fail an otherwise good answer.
type envelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	Error     *api.Error      `json:"error"`
	RequestID string          `json:"request_id"`
}

// send performs r and returns the answer and its body when the status is
// 2xx; any other answer becomes an *Error.
func (c *Client) send(ctx context.Context, r request) (*http.Response, []byte, error) {
	target := c.root + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var (
		reqBody io.Reader
		raw     []byte
	)
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, nil, fmt.Errorf("client: encode %s %s: %w", r.method, r.path, err)
		}
		reqBody, raw = bytes.NewReader(b), b
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, reqBody)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("X-API-Key", c.apiKey)
	}
	if c.signer != nil {
		c.signer.sign(req, raw)
	}

	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, nil, err // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %s %s: read answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, nil, newError(resp, body)
	}
	return resp, body, nil
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// errEmptyID guards against calls that would otherwise address a collection
// (DELETE /tasks/ is not what anyone means).
var errEmptyID = errors.New("client: empty id")

// itemPath returns "/api/v1/<collection>/<id><suffix>" with id escaped.
func itemPath(collection, id, suffix string) (string, error) {
	if id == "" {
		return "", errEmptyID
	}
	return apiPrefix + "/" + collection + "/" + url.PathEscape(id) + suffix, nil
}
