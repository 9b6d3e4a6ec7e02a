package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// TestOpenAPI checks the served document against the routes the server
// really serves, both ways, and validates it as OpenAPI.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "api.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Engine: eng, Insight: insight.New(st, nil, time.Now()), Version: "test"})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	resp, err := http.Get(ts.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", resp.StatusCode)
	}
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("loading the document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != ts.URL {
		t.Errorf("servers = %v, want the address it was asked at, %s", doc.Servers, ts.URL)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses.Value("201") == nil && op.Responses.Value("200") == nil {
				t.Errorf("%s %s documents no success status", method, path)
			}
		}
	}
	if op := doc.Paths.Value("/api/v1/tasks").Post; op.Responses.Value("201") == nil || op.Responses.Value("200") == nil {
		t.Errorf("POST /api/v1/tasks documents %v; want 201 (created) and 200 (idempotent replay)", op.Responses.Map())
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}

	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(documented)
	var served []string
	for _, rt := range srv.Routes() {
		served = append(served, rt.Pattern())
	}
	sort.Strings(served)
	if !slices.Equal(documented, served) {
		t.Errorf("documented routes differ from served ones:\n documented only: %v\n served only: %v",
			minus(documented, served), minus(served, documented))
	}
}

// TestOpenAPIRefusesUndocumentedRoutes: a route without a summary cannot be
// served silently undocumented.
func TestOpenAPIRefusesUndocumentedRoutes(t *testing.T) {
	t.Parallel()
	noop := func(http.ResponseWriter, *http.Request) error { return nil }
	_, err := server.OpenAPI("test", "http://localhost", []httpapi.Route{
		{Method: "GET", Path: "/health", Summary: "health", Tag: "cluster", Handler: noop},
		{Method: "GET", Path: "/api/v1/nowhere", Handler: noop},
	})
	if err == nil || !strings.Contains(err.Error(), "GET /api/v1/nowhere") {
		t.Fatalf("OpenAPI with an undocumented route: err = %v, want it named", err)
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
