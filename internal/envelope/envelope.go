// Package envelope writes Drover's native answers: document 001's envelope
// ({status, data, message, timestamp, request_id}; errors as {code,
// message, details}) and its table from error codes to HTTP statuses. The
// native API and the worker protocol answer in it; other dialects have
// envelopes of their own.
package envelope

import (
	"fmt"
	"net/http"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
)

// Status maps an error code to its HTTP status (document 001's table, then ours).
func Status(code domain.Code) int {
	switch code {
	case domain.CodeDeviceNotFound, domain.CodeTaskNotFound, domain.CodeNotFound, domain.CodeKeyNotFound:
		return http.StatusNotFound
	case domain.CodeInvalidTaskType, domain.CodeDeviceOffline, domain.CodeInsufficientResources,
		domain.CodeValidation, domain.CodeInvalidJSON, domain.CodeConflictingKeys:
		return http.StatusBadRequest
	case domain.CodeAuthenticationNeeded, domain.CodeWorkerUnknown, domain.CodeBadSignature, domain.CodeReplayed,
		domain.CodeTimestampSkew, domain.CodeTimestampInSeconds, domain.CodeModeMismatch:
		return http.StatusUnauthorized
	case domain.CodePermissionDenied:
		return http.StatusForbidden
	case domain.CodeRateLimitExceeded:
		return http.StatusTooManyRequests
	case domain.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case domain.CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.CodeHeaderTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case domain.CodeTaskNotCancellable, domain.CodeTaskNotRetryable, domain.CodeIdempotencyConflict,
		domain.CodeStaleLease, domain.CodeDeviceBusy, domain.CodeConflict:
		return http.StatusConflict
	case domain.CodeUnavailable, domain.CodeStoreUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// OK writes data in a success envelope with the status the serving route
// declares (201 for a create).
func OK(w http.ResponseWriter, r *http.Request, data any, message string) {
	status := http.StatusOK
	if rt := httpapi.RouteOf(r.Context()); rt != nil {
		status = rt.SuccessStatus()
	}
	Write(w, r, status, data, message)
}

// Write writes data in a success envelope with status.
func Write(w http.ResponseWriter, r *http.Request, status int, data any, message string) {
	raw, err := httpapi.Marshal(data)
	if err != nil {
		Error(w, r, fmt.Errorf("encoding answer: %w", err))
		return
	}
	httpapi.WriteJSON(w, status, api.Envelope{
		Status: "success", Data: raw, Message: message,
		Timestamp: time.Now().UTC(), RequestID: httpapi.RequestID(r.Context()),
	})
}

// Error writes err as an error envelope: an httpapi.ErrorFunc. A
// *domain.Error keeps its code and details; anything else is an
// INTERNAL_ERROR whose text is not shown.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	e := httpapi.AsError(err)
	status := Status(e.Code)
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "5") // a passing condition: ask again soon
	}
	httpapi.WriteJSON(w, status, api.Envelope{
		Status:    "error",
		Error:     &api.Error{Code: string(e.Code), Message: e.Message, Details: e.Details},
		Timestamp: time.Now().UTC(), RequestID: httpapi.RequestID(r.Context()),
	})
}

var _ httpapi.ErrorFunc = Error
