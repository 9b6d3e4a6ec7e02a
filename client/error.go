package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/drover-run/drover/api"
)

// Error is an error answer of a Drover server: the envelope's error object,
// with the HTTP status and the request id to find the call in the server's
// logs. It unwraps to that *api.Error, so either type works with errors.As:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.StatusCode == http.StatusNotFound { … }
//	var ae *api.Error
//	if errors.As(err, &ae) && ae.Code == "TASK_NOT_FOUND" { … }
type Error struct {
	StatusCode int        // the HTTP status, e.g. 404
	RequestID  string     // the envelope's request_id, else the X-Request-ID header
	API        *api.Error // what the server said; never nil
}

// Error returns "CODE: message", as *api.Error does.
func (e *Error) Error() string { return e.API.Error() }

// Unwrap returns the server's *api.Error.
func (e *Error) Unwrap() error { return e.API }

// newError builds the *Error for an error answer. A body that is not an
// error envelope (a proxy's page, a bare 404) still gets a code, HTTP_<status>,
// so callers can always branch on Code.
func newError(resp *http.Response, body []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID")}
	var env envelope
	if json.Unmarshal(body, &env) == nil && env.Error != nil && env.Error.Code != "" {
		e.API = env.Error
		if env.RequestID != "" {
			e.RequestID = env.RequestID
		}
		return e
	}
	msg := strings.TrimSpace(http.StatusText(resp.StatusCode))
	if len(strings.TrimSpace(string(body))) > 0 {
		msg += ": " + snippet(body)
	}
	e.API = &api.Error{Code: fmt.Sprintf("HTTP_%d", resp.StatusCode), Message: msg}
	return e
}
