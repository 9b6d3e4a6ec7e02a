package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
)

func TestNewAcceptsServerRootOrAPIBase(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	// Behind a reverse proxy, under a path prefix.
	target, _ := url.Parse(b.srv.APIURL())
	proxy := httptest.NewServer(http.StripPrefix("/drover", httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(proxy.Close)
	for _, base := range []string{
		b.srv.APIURL(),
		b.srv.APIURL() + "/",
		b.srv.APIURL() + "/api/v1",
		b.srv.APIURL() + "/api/v1/",
		proxy.URL + "/drover",
		proxy.URL + "/drover/api/v1",
	} {
		c, err := client.New(base)
		if err != nil {
			t.Fatalf("New(%q) = %v", base, err)
		}
		h, err := c.Cluster.Health(t.Context())
		if err != nil {
			t.Fatalf("New(%q): Cluster.Health = %v", base, err)
		}
		if h.OverallHealth == "" {
			t.Errorf("New(%q): Cluster.Health = %+v, want an overall health", base, h)
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
	b := setup(t, drovertest.Options{Auth: true}, client.WithUserAgent("drover-test/1"))
	req := echo("hi", 1)
	req.IdempotencyKey = "once"

	first, err := b.c.Tasks.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("Submit = %v", err)
	}
	h := b.rec.last(t).Header
	for name, want := range map[string]string{
		"X-Api-Key":       b.srv.APIKey(),
		"User-Agent":      "drover-test/1",
		"Accept":          "application/json",
		"Content-Type":    "application/json",
		"Idempotency-Key": "once",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	// The server honours the key: the same submit again is the same task.
	again, err := b.c.Tasks.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("Submit again = %v", err)
	}
	if again.TaskID != first.TaskID || !again.Duplicate {
		t.Errorf("Submit with the same idempotency key = %+v, want task %s marked duplicate", again, first.TaskID)
	}
}

func TestNoAPIKeyNoHeader(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	if _, err := b.c.Cluster.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := b.rec.last(t).Header
	if _, ok := h["X-Api-Key"]; ok {
		t.Errorf("X-API-Key sent without WithAPIKey: %q", h.Get("X-API-Key"))
	}
	if got := h.Get("User-Agent"); got != client.DefaultUserAgent {
		t.Errorf("User-Agent = %q, want %q", got, client.DefaultUserAgent)
	}
}

// An error answer carries document 001's code, message and details, and
// the request id the server logged it under.
func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})

	_, err := b.c.Tasks.Get(t.Context(), "nope")

	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Get(nope) = %v (%T), want a *client.Error", err, err)
	}
	if ce.StatusCode != http.StatusNotFound || ce.RequestID == "" {
		t.Errorf("Error status %d, request id %q; want 404 and an id", ce.StatusCode, ce.RequestID)
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("errors.As(%v, *api.Error) = false", err)
	}
	want := &api.Error{Code: "TASK_NOT_FOUND", Message: ae.Message, Details: map[string]any{"task_id": "nope"}}
	if diff := cmp.Diff(want, ae); diff != "" || !strings.Contains(ae.Message, "nope") {
		t.Errorf("api.Error (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "TASK_NOT_FOUND: "+ae.Message; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// A validation error names the field in its details.
func TestErrorDetails(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	_, err := b.c.Tasks.Submit(t.Context(), api.SubmitTaskRequest{TaskType: "echo", Priority: "urgent"})
	ae, ok := errors.AsType[*api.Error](err)
	if !ok || ae.Code != "VALIDATION_ERROR" || ae.Details["field"] != "priority" {
		t.Errorf("Submit(priority urgent) = %#v, want VALIDATION_ERROR on field priority", err)
	}
	if ce, ok := errors.AsType[*client.Error](err); !ok || ce.StatusCode != http.StatusBadRequest {
		t.Errorf("Submit(priority urgent) = %#v, want a 400 *client.Error", err)
	}
}

func TestEmptyIDSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	c, ctx := b.c, t.Context()
	calls := map[string]func() error{
		"Tasks.Get":      func() error { _, err := c.Tasks.Get(ctx, ""); return err },
		"Tasks.Cancel":   func() error { _, err := c.Tasks.Cancel(ctx, ""); return err },
		"Tasks.Retry":    func() error { _, err := c.Tasks.Retry(ctx, "", ""); return err },
		"Tasks.Logs":     func() error { _, err := c.Tasks.Logs(ctx, "", 0, 0); return err },
		"Devices.Get":    func() error { _, err := c.Devices.Get(ctx, ""); return err },
		"Devices.Remove": func() error { _, err := c.Devices.Remove(ctx, "", true); return err },
		"Devices.Ping":   func() error { _, err := c.Devices.Ping(ctx, "", 0, 0); return err },
		"Keys.Get":       func() error { _, err := c.Keys.Get(ctx, ""); return err },
		"Keys.Revoke":    func() error { _, err := c.Keys.Revoke(ctx, ""); return err },
		"Keys.Rotate":    func() error { _, err := c.Keys.Rotate(ctx, "", nil); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s(\"\") = nil error, want one", name)
		}
	}
	if n := len(b.rec.requests()); n != 0 {
		t.Errorf("the client sent %d requests, want 0", n)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	got, err := b.c.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "healthy" || got.UptimeSeconds < 0 || got.Version != "test" {
		t.Errorf("Health = %+v, want healthy, version test", got)
	}
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.c.Cluster.Health(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Health(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestServerDown(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.Stop()
	_, err := b.c.Cluster.Status(t.Context())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Status with the server down = %v, want connection refused", err)
	}
	if _, ok := errors.AsType[*client.Error](err); ok {
		t.Errorf("Status with the server down = %v, a *client.Error; want the transport's error", err)
	}
}
