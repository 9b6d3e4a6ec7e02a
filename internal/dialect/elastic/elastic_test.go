package elastic

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drover-run/drover/internal/domain"
)

// TestWriteError: every error is the document's envelope, with the code
// and status SEED-CHECKLIST.md's last section gives, and data null.
func TestWriteError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		code   string
		status int
	}{
		{domain.Errorf(domain.CodeValidation, "points"), "4000", 400},
		{domain.Errorf(domain.CodeInvalidJSON, "x"), "4000", 400},
		{domain.Errorf(domain.CodePayloadTooLarge, "x"), "4000", 400},
		{domain.Errorf(domain.CodeAuthenticationNeeded, "x"), "4001", 401},
		{domain.Errorf(domain.CodeBadSignature, "x"), "4001", 401},
		{domain.Errorf(domain.CodeReplayed, "x"), "4001", 401},
		{domain.Errorf(domain.CodeTimestampSkew, "x"), "4001", 401},
		{domain.Errorf(domain.CodeModeMismatch, "x"), "4001", 401},
		{domain.Errorf(domain.CodePermissionDenied, "x"), "4003", 403},
		{domain.Errorf(domain.CodeNotFound, "pool 1 does not exist"), "4004", 404},
		{domain.Errorf(domain.CodeRateLimitExceeded, "x"), "4029", 429},
		{errors.New("disk on fire"), "5000", 500},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("POST", ChangePointsPath, nil), tc.err)
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || got["code"] != tc.code || got["message"] == "" || len(got) != 3 || got["data"] != nil {
			t.Errorf("WriteError(%v) = %d %s, want %d code %s", tc.err, rec.Code, rec.Body, tc.status, tc.code)
		}
	}
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("POST", ChangePointsPath, nil), errors.New("secret internals"))
	if got := rec.Body.String(); strings.Contains(got, "secret internals") {
		t.Errorf("an internal error leaks its text: %s", got)
	}
}
