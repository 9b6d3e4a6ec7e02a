package domain

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Document 001's codes are
// kept as written; the rest follow their style. Each dialect maps codes to its
// own status and envelope.
type Code string

// The error codes.
const (
	CodeDeviceNotFound        Code = "DEVICE_NOT_FOUND"
	CodeTaskNotFound          Code = "TASK_NOT_FOUND"
	CodeInvalidTaskType       Code = "INVALID_TASK_TYPE"
	CodeDeviceOffline         Code = "DEVICE_OFFLINE"
	CodeInsufficientResources Code = "INSUFFICIENT_RESOURCES"
	CodeAuthenticationNeeded  Code = "AUTHENTICATION_REQUIRED"
	CodePermissionDenied      Code = "PERMISSION_DENIED"
	CodeRateLimitExceeded     Code = "RATE_LIMIT_EXCEEDED"
	CodeInternal              Code = "INTERNAL_ERROR"

	CodeValidation          Code = "VALIDATION_ERROR"      // a field is missing, of the wrong type or out of range
	CodeInvalidJSON         Code = "INVALID_JSON"          // the body is not JSON, or not the expected shape
	CodePayloadTooLarge     Code = "PAYLOAD_TOO_LARGE"     // the body is over the cap
	CodeHeaderTooLarge      Code = "HEADER_TOO_LARGE"      // the request's headers are over the budget
	CodeNotFound            Code = "NOT_FOUND"             // no such route or resource
	CodeMethodNotAllowed    Code = "METHOD_NOT_ALLOWED"    // the route exists, not with this method
	CodeTaskNotCancellable  Code = "TASK_NOT_CANCELLABLE"  // the task already ended
	CodeTaskNotRetryable    Code = "TASK_NOT_RETRYABLE"    // only failed or cancelled tasks are retried
	CodeIdempotencyConflict Code = "IDEMPOTENCY_CONFLICT"  // a key reused with a different request
	CodeStaleLease          Code = "STALE_LEASE"           // a report on a lease that is no longer held
	CodeDeviceBusy          Code = "DEVICE_BUSY"           // removing a device with running tasks needs force
	CodeWorkerUnknown       Code = "WORKER_NOT_REGISTERED" // a worker credential that names no live worker
	CodeUnavailable         Code = "SERVICE_UNAVAILABLE"   // shutting down, or the store is unreachable
	CodeStoreUnavailable    Code = "STORE_UNAVAILABLE"     // the store cannot write: read-only, disk full, I/O error
	CodeConflict            Code = "CONFLICT"              // the resource's state forbids the change (a name taken, a run not running)

	// Authentication (internal/auth): signed-mode refusals carry their own
	// code (docs/guarantees.md, G12); the rest are AUTHENTICATION_REQUIRED.
	CodeBadSignature       Code = "BAD_SIGNATURE"           // sign_str does not match the request
	CodeReplayed           Code = "REPLAYED"                // a sign_str seen before within its window
	CodeTimestampSkew      Code = "TIMESTAMP_SKEW"          // timestamp outside ±5 minutes of the server clock
	CodeTimestampInSeconds Code = "TIMESTAMP_IN_SECONDS"    // timestamp in seconds where milliseconds are due
	CodeModeMismatch       Code = "MODE_MISMATCH"           // a signed-mode key without a signature
	CodeConflictingKeys    Code = "CONFLICTING_CREDENTIALS" // two different keys in one request
	CodeKeyNotFound        Code = "KEY_NOT_FOUND"           // no API key with this id
)

// Error is an error the API shows its caller: a code, a message for people
// and details for programs.
type Error struct {
	Code    Code
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns e with one more detail.
func (e *Error) With(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// CodeOf is err's code, or CodeInternal if err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Store-level sentinel errors. Backends translate driver errors into these at
// the edge, so nothing above the store sees a driver type.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict") // a uniqueness or state precondition failed
)
