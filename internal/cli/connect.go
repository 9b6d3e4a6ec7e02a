package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/client"
)

// requestTimeout bounds each API call but an event stream, so that a server
// that stops answering cannot hang a command; waiting commands make many
// short calls. A stream is bounded by its keep-alive comments instead.
const requestTimeout = time.Minute

// userAgent tells the server's logs that the CLI is calling.
const userAgent = "drover-cli"

// client returns an SDK client for the server chosen by the flags, the
// environment and the config file, in that order.
func (m *meta) client() (*client.Client, error) {
	apiURL, apiKey, apiSecret, err := m.endpoint()
	if err != nil {
		return nil, err
	}
	next := m.transport
	if next == nil {
		next = http.DefaultTransport
	}
	m.last = &answerRecorder{next: next}
	opts := []client.Option{
		client.WithHTTPClient(&http.Client{Transport: m.last}),
		client.WithUserAgent(userAgent),
	}
	switch {
	case apiKey != "" && apiSecret != "":
		opts = append(opts, client.WithSigningKey(apiKey, apiSecret))
	case apiKey != "":
		opts = append(opts, client.WithAPIKey(apiKey))
	}
	if m.pollInterval > 0 {
		opts = append(opts, client.WithPollInterval(m.pollInterval))
	}
	c, err := client.New(apiURL, opts...)
	if err != nil {
		return nil, usageErrorf("API URL %q: want http://host:port or https://host:port", apiURL)
	}
	return c, nil
}

// endpoint picks the server address and key: a flag if given, else the
// environment, else the config file, else the default address and no key.
// The environment outranks the file (as in kubectl, gh, docker) so that a
// script or one shell can point elsewhere without editing the user's file.
func (m *meta) endpoint() (apiURL, apiKey, apiSecret string, err error) {
	pick := func(flag, value, env string) (string, bool) {
		if m.globals.Changed(flag) {
			return value, true
		}
		if v := m.getenv(env); v != "" {
			return v, true
		}
		return "", false
	}
	apiURL, urlSet := pick("api-url", m.apiURL, envAPIURL)
	apiKey, keySet := pick("api-key", m.apiKey, envAPIKey)
	apiSecret, secretSet := pick("api-secret", m.apiSecret, envAPISecret)
	if !urlSet || !keySet || !secretSet {
		cfg, _, err := m.loadConfig()
		if err != nil {
			return "", "", "", err
		}
		if !secretSet && !keySet {
			apiSecret = cfg.APISecret // a secret goes with the config's key, not another one
		}
		if !urlSet {
			apiURL = cfg.APIURL
		}
		if !keySet {
			apiKey = cfg.APIKey
		}
	}
	if apiURL == "" {
		apiURL = defaultAPIURL
	}
	return apiURL, apiKey, apiSecret, nil
}

// answerRecorder keeps the body of the latest answer that passes through it,
// so -o json can print the data object exactly as the server sent it
// without the SDK growing a raw-answer API for the CLI's sake.
type answerRecorder struct {
	next http.RoundTripper

	mu   sync.Mutex
	last []byte
}

func (r *answerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if isStream(req) {
		return r.next.RoundTrip(req) // read as it comes, for as long as it lasts
	}
	ctx, cancel := context.WithTimeout(req.Context(), requestTimeout)
	defer cancel()
	resp, err := r.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last = body
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// isStream reports whether req asks for an event stream.
func isStream(req *http.Request) bool {
	return strings.Contains(req.Header.Get("Accept"), "text/event-stream")
}

func (r *answerRecorder) body() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}
