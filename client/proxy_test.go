package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// What a Drover server never answers but a proxy in front of it, or
// another implementation of document 001, may: the client must still
// return a useful error. These are the only tests on a stand-in server.

// standIn serves h where a Drover server would be.
func standIn(t *testing.T, h http.HandlerFunc) *client.Client {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	c, err := client.New(s.URL, client.WithPollInterval(1))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorWithoutEnvelope(t *testing.T) {
	t.Parallel()
	c := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", "from-header")
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	})

	_, err := c.Cluster.Status(t.Context())

	ce, ok := errors.AsType[*client.Error](err)
	if !ok {
		t.Fatalf("Status = %v (%T), want a *client.Error", err, err)
	}
	if ce.StatusCode != 502 || ce.API.Code != "HTTP_502" || ce.RequestID != "from-header" {
		t.Errorf("Error = {%d %q %q}, want {502 HTTP_502 from-header}", ce.StatusCode, ce.API.Code, ce.RequestID)
	}
	if want := "HTTP_502: Bad Gateway: <html>bad gateway</html>"; ce.Error() != want {
		t.Errorf("Error() = %q, want %q", ce.Error(), want)
	}
}

func TestErrorEnvelopeIn2xx(t *testing.T) {
	t.Parallel()
	c := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"error","error":{"code":"INTERNAL_ERROR","message":"oops"},"request_id":"req-1"}`))
	})
	_, err := c.Cluster.Status(t.Context())
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "INTERNAL_ERROR" {
		t.Errorf("Status = %v, want INTERNAL_ERROR", err)
	}
}

func TestNotAnEnvelope(t *testing.T) {
	t.Parallel()
	c := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html>hello</html>`))
	})
	_, err := c.Cluster.Status(t.Context())
	if err == nil {
		t.Fatal("Status of an HTML page = nil error")
	}
	if _, ok := errors.AsType[*client.Error](err); ok {
		t.Errorf("Status of a 200 HTML page = %v, a *client.Error; want a plain error", err)
	}
}

// Document 001's reference server answers /health with a bare object.
func TestHealthBare(t *testing.T) {
	t.Parallel()
	c := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"healthy","uptime_seconds":12.5,"components":{"store":"healthy"}}`))
	})
	got, err := c.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := &api.Health{Status: "healthy", UptimeSeconds: 12.5, Components: map[string]string{"store": "healthy"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Health (-want +got):\n%s", diff)
	}
}

// A server whose log cursor does not move would make FollowLogs repeat
// lines forever.
func TestTasksFollowLogsStuckCursor(t *testing.T) {
	t.Parallel()
	c := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"success","data":{"task_id":"task-1","status":"running","cursor":0,"logs":[{"seq":1,"message":"one"}]}}`))
	})
	err := c.Tasks.FollowLogs(t.Context(), "task-1", func(api.LogLine) {})
	if err == nil || !strings.Contains(err.Error(), "cursor did not advance") {
		t.Errorf("FollowLogs = %v, want a cursor error", err)
	}
}
