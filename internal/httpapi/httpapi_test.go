package httpapi_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
)

// plainErrors renders errors as "CODE message" with the envelope-free
// status each dialect would choose; enough to see what reached it.
func plainErrors(w http.ResponseWriter, r *http.Request, err error) {
	e := httpapi.AsError(err)
	status := http.StatusInternalServerError
	switch e.Code {
	case domain.CodeNotFound:
		status = http.StatusNotFound
	case domain.CodeMethodNotAllowed:
		status = http.StatusMethodNotAllowed
	case domain.CodeValidation, domain.CodeInvalidJSON:
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "%s %s", e.Code, e.Message)
}

func serve(t *testing.T, log *slog.Logger, routes ...httpapi.Route) (http.Handler, *httpapi.Router) {
	t.Helper()
	return httpapi.Build(routes, plainErrors, log)
}

func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

func TestRouterAnswersInTheListenersFormat(t *testing.T) {
	t.Parallel()
	h, _ := serve(t, nil, httpapi.Route{Method: "GET", Path: "/things/{id}", Handler: func(w http.ResponseWriter, r *http.Request) error {
		return nil
	}})
	for _, tc := range []struct {
		method, path string
		status       int
		prefix       string
	}{
		{"GET", "/nowhere", 404, "NOT_FOUND"},
		{"DELETE", "/things/1", 405, "METHOD_NOT_ALLOWED"},
		{"GET", "//things//1", 404, "NOT_FOUND"}, // not an HTML redirect
		{"GET", "/things/../things/1", 404, "NOT_FOUND"},
	} {
		rec := do(h, tc.method, tc.path, "")
		if rec.Code != tc.status || !strings.HasPrefix(rec.Body.String(), tc.prefix) {
			t.Errorf("%s %s = %d %q, want %d %s…", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.prefix)
		}
		if rec.Header().Get("X-Request-ID") == "" {
			t.Errorf("%s %s: no X-Request-ID", tc.method, tc.path)
		}
	}
	if rec := do(h, "DELETE", "/things/1", ""); rec.Header().Get("Allow") == "" {
		t.Errorf("405 without Allow")
	}
}

func TestInternalErrorsAreLoggedWithTheirRequestID(t *testing.T) {
	t.Parallel()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	h, _ := serve(t, log,
		httpapi.Route{Method: "GET", Path: "/broken", Handler: func(w http.ResponseWriter, r *http.Request) error {
			return errors.New("disk on fire")
		}},
		httpapi.Route{Method: "GET", Path: "/panics", Handler: func(w http.ResponseWriter, r *http.Request) error {
			panic("boom")
		}},
		httpapi.Route{Method: "GET", Path: "/refused", Handler: func(w http.ResponseWriter, r *http.Request) error {
			return domain.Errorf(domain.CodeValidation, "no")
		}})
	rec := do(h, "GET", "/broken", "")
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "disk on fire") {
		t.Errorf("GET /broken = %d %q; want 500 hiding the cause", rec.Code, rec.Body)
	}
	id := rec.Header().Get("X-Request-ID")
	if !strings.Contains(logged.String(), "disk on fire") || !strings.Contains(logged.String(), id) {
		t.Errorf("the log does not hold the cause and request id %s:\n%s", id, logged.String())
	}
	if rec := do(h, "GET", "/panics", ""); rec.Code != 500 || !strings.Contains(logged.String(), "boom") {
		t.Errorf("GET /panics = %d; log:\n%s", rec.Code, logged.String())
	}
	before := logged.Len()
	if rec := do(h, "GET", "/refused", ""); rec.Code != 400 || logged.Len() != before {
		t.Errorf("a refusal = %d and logged %q; want 400, not logged", rec.Code, logged.String()[before:])
	}
}

func TestUndeclaredSuccessStatusIsReported(t *testing.T) {
	t.Parallel()
	h, rt := serve(t, nil,
		httpapi.Route{Method: "POST", Path: "/made", Status: http.StatusCreated, Handler: func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusOK) // declared 201
			return nil
		}})
	var got []int
	rt.Undeclared = func(_ *httpapi.Route, status int) { got = append(got, status) }
	do(h, "POST", "/made", "")
	if len(got) != 1 || got[0] != 200 {
		t.Errorf("Undeclared saw %v, want [200]", got)
	}
}

func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	var v struct {
		N int `json:"n"`
	}
	for body, code := range map[string]domain.Code{
		`{"n": "x"}`:  domain.CodeValidation,
		`{"m": 1}`:    domain.CodeValidation,
		`{"n": 1} {}`: domain.CodeInvalidJSON,
		`{"n":`:       domain.CodeInvalidJSON,
		``:            domain.CodeInvalidJSON,
		`[1, 2]`:      domain.CodeInvalidJSON,
	} {
		err := httpapi.DecodeBytes([]byte(body), &v)
		if body == "" {
			err = httpapi.Decode(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), &v, false)
		}
		if got := httpapi.AsError(err).Code; got != code {
			t.Errorf("decoding %q: %v (%s), want %s", body, err, got, code)
		}
	}
}
