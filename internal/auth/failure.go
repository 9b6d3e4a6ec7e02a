package auth

import (
	"errors"
	"net/http"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/ratelimit"
)

// Reason says why a request was refused; each dialect renders it its own way.
type Reason string

// The reasons.
const (
	ReasonMissing          Reason = "missing"             // no key presented
	ReasonEmpty            Reason = "empty"               // a key header or parameter with no value
	ReasonConflicting      Reason = "conflicting"         // two different keys
	ReasonMalformed        Reason = "malformed"           // a Drover token whose checksum is wrong
	ReasonUnknown          Reason = "unknown"             // no such key
	ReasonRevoked          Reason = "revoked"             // the key was revoked
	ReasonExpired          Reason = "expired"             // the key expired (or its rotation grace ended)
	ReasonModeMismatch     Reason = "mode_mismatch"       // a signed-mode key without a signature
	ReasonBadTimestamp     Reason = "bad_timestamp"       // a missing or non-numeric timestamp
	ReasonTimestampSeconds Reason = "timestamp_seconds"   // a timestamp in seconds, not milliseconds
	ReasonTimestampSkew    Reason = "timestamp_skew"      // a timestamp outside the window
	ReasonBadSignature     Reason = "bad_signature"       // sign_str does not match
	ReasonReplayed         Reason = "replayed"            // sign_str seen before
	ReasonForbidden        Reason = "forbidden"           // authenticated, but the scope is missing
	ReasonJoinRefused      Reason = "join_refused"        // a join token used up, or for another pool
	ReasonNoServerKey      Reason = "signing_unavailable" // signed keys need a server key
)

// Failure is an authentication or authorization refusal.
type Failure struct {
	Reason  Reason
	Message string
	// Scope is the scope that was missing, for ReasonForbidden.
	Scope Scope
}

func (f *Failure) Error() string { return "auth: " + f.Message }

// Status is the HTTP status of the refusal: 400 for conflicting keys, 403
// for a missing scope or a refused join, 503 when signing is not set up,
// else 401.
func (f *Failure) Status() int {
	switch f.Reason {
	case ReasonConflicting:
		return http.StatusBadRequest
	case ReasonForbidden, ReasonJoinRefused:
		return http.StatusForbidden
	case ReasonNoServerKey:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// Code is the refusal's code in the native envelope.
func (f *Failure) Code() domain.Code {
	switch f.Reason {
	case ReasonConflicting:
		return domain.CodeConflictingKeys
	case ReasonForbidden, ReasonJoinRefused:
		return domain.CodePermissionDenied
	case ReasonModeMismatch:
		return domain.CodeModeMismatch
	case ReasonTimestampSeconds:
		return domain.CodeTimestampInSeconds
	case ReasonTimestampSkew, ReasonBadTimestamp:
		return domain.CodeTimestampSkew
	case ReasonBadSignature:
		return domain.CodeBadSignature
	case ReasonReplayed:
		return domain.CodeReplayed
	case ReasonNoServerKey:
		return domain.CodeUnavailable
	}
	return domain.CodeAuthenticationNeeded
}

func fail(reason Reason, msg string) *Failure { return &Failure{Reason: reason, Message: msg} }

// DomainError converts the guard's refusals for the envelope dialects: a
// *Failure becomes its code with details.reason, a rate-limit refusal
// RATE_LIMIT_EXCEEDED; anything else is returned as it is.
func DomainError(err error) error {
	var f *Failure
	if errors.As(err, &f) {
		e := domain.Errorf(f.Code(), "%s", f.Message).With("reason", string(f.Reason))
		if f.Scope != "" {
			e.With("required_scope", string(f.Scope))
		}
		return e
	}
	var x *ratelimit.ExceededError
	if errors.As(err, &x) {
		return x.Unwrap()
	}
	return err
}
