package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
)

// The protocol's error codes the worker acts on.
const (
	codeWorkerUnknown = "WORKER_NOT_REGISTERED"
	codeStaleLease    = "STALE_LEASE"
)

// Call deadlines. The lease long-poll gets its wait plus callTimeout.
const (
	callTimeout   = 15 * time.Second
	leaseWait     = 25 * time.Second
	maxReplyBytes = 32 << 20 // a lease answer carries payloads; be generous
)

// agentClient speaks the worker protocol over HTTP. It holds no session
// state: callers pass the credential, so one re-registration is seen by all.
type agentClient struct {
	base string
	hc   *http.Client
}

// newHTTPClient is the default client: keep-alive connections for the few
// calls a worker has in flight at once (lease poll, heartbeat, flusher,
// deregister), and no client-wide timeout, which would cut the long-poll.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 16
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 0 // per call, from ctx
	t.ForceAttemptHTTP2 = false // plain keep-alive HTTP/1.1 is enough and lighter
	return &http.Client{Transport: t}
}

// callError is a failed call: a status the server answered, or none when
// the server was not reached.
type callError struct {
	Path   string
	Status int        // 0 when no answer came
	API    *api.Error // the answer's error object; nil when none was parsed
	Err    error      // a transport error
}

func (e *callError) Error() string {
	switch {
	case e.API != nil:
		return fmt.Sprintf("%s: %d %s: %s", e.Path, e.Status, e.API.Code, e.API.Message)
	case e.Status != 0:
		return fmt.Sprintf("%s: HTTP %d", e.Path, e.Status)
	default:
		return fmt.Sprintf("%s: %v", e.Path, e.Err)
	}
}

func (e *callError) Unwrap() error { return e.Err }

// unauthorized reports whether err says the server does not know our
// credential: time to register again.
func unauthorized(err error) bool {
	var ce *callError
	return errors.As(err, &ce) &&
		(ce.Status == http.StatusUnauthorized || (ce.API != nil && ce.API.Code == codeWorkerUnknown))
}

// permanent reports whether retrying the same call cannot help: the server
// understood and refused it (4xx other than 401, 408, 429).
func permanent(err error) bool {
	var ce *callError
	if !errors.As(err, &ce) || ce.Status < 400 || ce.Status >= 500 {
		return false
	}
	switch ce.Status {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return true
}

// tooLarge reports whether the server refused a body for its size.
func tooLarge(err error) bool {
	var ce *callError
	return errors.As(err, &ce) && ce.Status == http.StatusRequestEntityTooLarge
}

// bufPool recycles request and reply buffers: every call needs both.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// call posts in as JSON to path and decodes the answer into out (if non-nil).
// bearer is the Authorization credential, if any.
func (c *agentClient) call(ctx context.Context, path, bearer string, in, out any) error {
	body := bufPool.Get().(*bytes.Buffer)
	body.Reset()
	defer bufPool.Put(body)
	if err := json.NewEncoder(body).Encode(in); err != nil {
		return fmt.Errorf("%s: encode: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body.Bytes()))
	if err != nil {
		return &callError{Path: path, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &callError{Path: path, Err: err}
	}
	defer resp.Body.Close()

	reply := bufPool.Get().(*bytes.Buffer)
	reply.Reset()
	defer bufPool.Put(reply)
	if _, err := reply.ReadFrom(io.LimitReader(resp.Body, maxReplyBytes)); err != nil {
		return &callError{Path: path, Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return &callError{Path: path, Status: resp.StatusCode, API: parseError(reply.Bytes())}
	}
	if out == nil || reply.Len() == 0 {
		return nil
	}
	if err := decodeReply(reply.Bytes(), out); err != nil {
		return &callError{Path: path, Status: resp.StatusCode, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return nil
}

// decodeReply decodes a success answer, bare or wrapped in the native
// envelope ({"status":"success","data":...}): api/agent.go fixes the error
// object but not whether success answers are enveloped, so accept both.
// The extra pass skims the body without building anything.
func decodeReply(b []byte, out any) error {
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(b, &env) == nil && env.Status == "success" && len(env.Data) > 0 {
		b = env.Data
	}
	return json.Unmarshal(b, out)
}

// parseError extracts the error object of an error answer, if it has one.
func parseError(b []byte) *api.Error {
	var env struct {
		Error *api.Error `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error == nil || env.Error.Code == "" {
		return nil
	}
	return env.Error
}

func (c *agentClient) register(ctx context.Context, token string, req *api.RegisterRequest) (*api.RegisterResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var resp api.RegisterResponse
	if err := c.call(ctx, api.AgentRegisterPath, token, req, &resp); err != nil {
		return nil, err
	}
	if resp.WorkerID == "" || resp.Credential == "" {
		return nil, &callError{Path: api.AgentRegisterPath, Status: 200, Err: errors.New("answer lacks worker_id or credential")}
	}
	return &resp, nil
}

func (c *agentClient) heartbeat(ctx context.Context, cred string, req *api.HeartbeatRequest) (*api.HeartbeatResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var resp api.HeartbeatResponse
	err := c.call(ctx, api.AgentHeartbeatPath, cred, req, &resp)
	return &resp, err
}

func (c *agentClient) lease(ctx context.Context, cred string, req *api.LeaseRequest) (*api.LeaseResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, req.Wait.Duration()+callTimeout)
	defer cancel()
	var resp api.LeaseResponse
	err := c.call(ctx, api.AgentLeasePath, cred, req, &resp)
	return &resp, err
}

func (c *agentClient) logs(ctx context.Context, cred string, req *api.LogBatch) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return c.call(ctx, api.AgentLogsPath, cred, req, nil)
}

func (c *agentClient) progress(ctx context.Context, cred string, req *api.ProgressBatch) (*api.ProgressBatchResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var out api.ProgressBatchResponse
	if err := c.call(ctx, api.AgentProgressPath, cred, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *agentClient) results(ctx context.Context, cred string, req *api.ResultBatch) (*api.ResultBatchResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var resp api.ResultBatchResponse
	err := c.call(ctx, api.AgentResultsPath, cred, req, &resp)
	return &resp, err
}

func (c *agentClient) deregister(ctx context.Context, cred string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return c.call(ctx, api.AgentDeregisterPath, cred, struct{}{}, nil)
}

// backoff is exponential backoff with full jitter: the n-th wait is uniform
// in [0, min(max, base·2ⁿ)], so a fleet that lost its server does not come
// back in lockstep (AWS, "Exponential Backoff And Jitter").
type backoff struct {
	base, max time.Duration
	n         int
}

func newBackoff() backoff { return backoff{base: 100 * time.Millisecond, max: 5 * time.Second} }

func (b *backoff) next() time.Duration {
	d := b.max
	if b.n < 16 && b.base<<b.n < b.max {
		d = b.base << b.n
	}
	b.n++
	return rand.N(d) + time.Millisecond // #nosec G404 -- jitter, not a secret; never zero: no tight loop
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
