package client_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// fakeServer stands in for a Drover server: tests route paths to handlers
// and read back what the client sent.
type fakeServer struct {
	*httptest.Server
	mux *http.ServeMux

	mu   sync.Mutex
	reqs []sentRequest
}

// sentRequest is what the fake server received.
type sentRequest struct {
	Method string
	Path   string // escaped, as on the wire
	Query  string
	Header http.Header
	Body   string
}

// setup starts a fake server and a client of it that polls every
// millisecond, so that tests of Wait and FollowLogs run at once.
func setup(t *testing.T, opts ...client.Option) (*fakeServer, *client.Client) {
	t.Helper()
	f := &fakeServer{mux: http.NewServeMux()}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, sentRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	opts = append([]client.Option{client.WithPollInterval(time.Millisecond)}, opts...)
	c, err := client.New(f.URL, opts...)
	if err != nil {
		t.Fatalf("client.New(%q) = %v", f.URL, err)
	}
	return f, c
}

// requests returns what the server received so far.
func (f *fakeServer) requests() []sentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRequest(nil), f.reqs...)
}

// last returns the latest request the server received.
func (f *fakeServer) last(t *testing.T) sentRequest {
	t.Helper()
	reqs := f.requests()
	if len(reqs) == 0 {
		t.Fatal("server received no request")
	}
	return reqs[len(reqs)-1]
}

// reply answers pattern with the given data objects in turn, repeating the
// last one: enough to script a task that goes pending, running, completed.
func (f *fakeServer) reply(pattern string, data ...any) {
	var mu sync.Mutex
	n := 0
	f.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := data[min(n, len(data)-1)]
		n++
		mu.Unlock()
		writeData(w, http.StatusOK, d)
	})
}

// writeData answers with a success envelope around data.
func writeData(w http.ResponseWriter, status int, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	writeEnvelope(w, status, api.Envelope{Status: "success", Data: raw, RequestID: "req-1"})
}

// writeError answers with an error envelope.
func writeError(w http.ResponseWriter, status int, e api.Error) {
	writeEnvelope(w, status, api.Envelope{Status: "error", Error: &e, RequestID: "req-1"})
}

func writeEnvelope(w http.ResponseWriter, status int, env api.Envelope) {
	env.Timestamp = time.Date(2023, 1, 1, 12, 0, 0, 0, time.UTC)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(env)
}
