package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

func TestNewAcceptsServerRootOrAPIBase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		suffix, wantPath string
	}{
		{"", "/api/v1/cluster/health"},
		{"/", "/api/v1/cluster/health"},
		{"/api/v1", "/api/v1/cluster/health"},
		{"/api/v1/", "/api/v1/cluster/health"},
		{"/drover", "/drover/api/v1/cluster/health"}, // behind a reverse proxy
	} {
		f, _ := setup(t)
		f.reply("/", api.ClusterHealth{OverallHealth: "healthy"})
		c, err := client.New(f.URL + tc.suffix)
		if err != nil {
			t.Fatalf("New(%q) = %v", f.URL+tc.suffix, err)
		}
		if _, err := c.Cluster.Health(t.Context()); err != nil {
			t.Fatalf("New(%q): Cluster.Health = %v", f.URL+tc.suffix, err)
		}
		if got := f.last(t).Path; got != tc.wantPath {
			t.Errorf("New(%q): request path %q, want %q", f.URL+tc.suffix, got, tc.wantPath)
		}
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:8081", "ftp://host", "http://", "http://host/?x=1", "http://host/#top", "http://[::1"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q) = nil error, want one", u)
		}
	}
}

func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	f, c := setup(t, client.WithAPIKey("s3cret"), client.WithUserAgent("drover-test/1"))
	f.reply("POST /api/v1/tasks", api.SubmitTaskResponse{TaskID: "task-1", Status: "pending"})

	if _, err := c.Tasks.Submit(t.Context(), api.SubmitTaskRequest{TaskType: "echo", IdempotencyKey: "once"}); err != nil {
		t.Fatalf("Submit = %v", err)
	}
	h := f.last(t).Header
	for name, want := range map[string]string{
		"X-Api-Key":       "s3cret",
		"User-Agent":      "drover-test/1",
		"Accept":          "application/json",
		"Content-Type":    "application/json",
		"Idempotency-Key": "once",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
}

func TestNoAPIKeyNoHeader(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.reply("GET /api/v1/cluster/health", api.ClusterHealth{})
	if _, err := c.Cluster.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := f.last(t).Header
	if _, ok := h["X-Api-Key"]; ok {
		t.Errorf("X-API-Key sent without WithAPIKey: %q", h.Get("X-API-Key"))
	}
	if got := h.Get("User-Agent"); got != client.DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", got, client.DefaultUserAgent)
	}
}

func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.mux.HandleFunc("GET /api/v1/tasks/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.Error{
			Code:    "TASK_NOT_FOUND",
			Message: "task nope does not exist",
			Details: map[string]any{"task_id": "nope"},
		})
	})

	_, err := c.Tasks.Get(t.Context(), "nope")

	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Get(nope) = %v (%T), want a *client.Error", err, err)
	}
	if ce.StatusCode != http.StatusNotFound || ce.RequestID != "req-1" {
		t.Errorf("Error status %d, request id %q; want 404, req-1", ce.StatusCode, ce.RequestID)
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("errors.As(%v, *api.Error) = false", err)
	}
	want := &api.Error{Code: "TASK_NOT_FOUND", Message: "task nope does not exist", Details: map[string]any{"task_id": "nope"}}
	if diff := cmp.Diff(want, ae); diff != "" {
		t.Errorf("api.Error (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "TASK_NOT_FOUND: task nope does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestErrorWithoutEnvelope(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
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
	f, c := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusOK, api.Error{Code: "INTERNAL_ERROR", Message: "oops"})
	})
	_, err := c.Cluster.Status(t.Context())
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "INTERNAL_ERROR" {
		t.Errorf("Status = %v, want INTERNAL_ERROR", err)
	}
}

func TestNotAnEnvelope(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
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

func TestEmptyIDSendsNothing(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	ctx := t.Context()
	calls := map[string]func() error{
		"Tasks.Get":      func() error { _, err := c.Tasks.Get(ctx, ""); return err },
		"Tasks.Cancel":   func() error { _, err := c.Tasks.Cancel(ctx, ""); return err },
		"Tasks.Retry":    func() error { _, err := c.Tasks.Retry(ctx, "", ""); return err },
		"Tasks.Logs":     func() error { _, err := c.Tasks.Logs(ctx, "", 0, 0); return err },
		"Devices.Get":    func() error { _, err := c.Devices.Get(ctx, ""); return err },
		"Devices.Remove": func() error { _, err := c.Devices.Remove(ctx, "", true); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s(\"\") = nil error, want one", name)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("server received %d requests, want 0", n)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	want := &api.Health{Status: "healthy", UptimeSeconds: 12.5, Components: map[string]string{"store": "healthy"}}
	t.Run("envelope", func(t *testing.T) {
		t.Parallel()
		f, c := setup(t)
		f.reply("GET /health", want)
		got, err := c.Health(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Health (-want +got):\n%s", diff)
		}
	})
	t.Run("bare", func(t *testing.T) {
		t.Parallel()
		f, c := setup(t)
		f.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"healthy","uptime_seconds":12.5,"components":{"store":"healthy"}}`))
		})
		got, err := c.Health(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Health (-want +got):\n%s", diff)
		}
	})
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.reply("/", api.ClusterHealth{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Cluster.Health(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Health(cancelled ctx) = %v, want context.Canceled", err)
	}
}
