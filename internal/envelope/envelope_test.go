package envelope_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
)

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{domain.Errorf(domain.CodeTaskNotFound, "no"), 404, "TASK_NOT_FOUND", false},
		{domain.Errorf(domain.CodeStoreUnavailable, "read-only"), 503, "STORE_UNAVAILABLE", true},
		{domain.Errorf(domain.CodeUnavailable, "busy"), 503, "SERVICE_UNAVAILABLE", true},
		{errors.New("secret internals"), 500, "INTERNAL_ERROR", false},
	} {
		rec := httptest.NewRecorder()
		envelope.Error(rec, httptest.NewRequest("GET", "/", nil), tc.err)
		var env api.Envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Status != "error" || env.Error == nil {
			t.Fatalf("%v: not an error envelope: %s", tc.err, rec.Body)
		}
		if rec.Code != tc.status || env.Error.Code != tc.code || (rec.Header().Get("Retry-After") != "") != tc.retryAfter {
			t.Errorf("%v = %d %s (Retry-After %q), want %d %s (Retry-After: %t)", tc.err, rec.Code, env.Error.Code,
				rec.Header().Get("Retry-After"), tc.status, tc.code, tc.retryAfter)
		}
		if env.Error.Code == "INTERNAL_ERROR" && env.Error.Message != "internal error" {
			t.Errorf("an internal error shows its cause: %q", env.Error.Message)
		}
	}
}
