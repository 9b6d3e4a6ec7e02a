package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/store"
)

// Header names of signed mode (document 000).
const (
	HeaderToken     = "token"
	HeaderTimestamp = "timestamp"
	HeaderVersion   = "version"
	HeaderSignStr   = "sign_str"
)

// PresentedKey is the key a request carries, in whichever of the accepted
// forms. It returns a *Failure when there is none (ReasonMissing), when a
// form is present but empty (ReasonEmpty), or when the forms disagree
// (ReasonConflicting). Another Authorization scheme than Bearer is not a
// key.
func PresentedKey(r *http.Request) (string, error) {
	found := slices.Clone(r.Header.Values("X-API-Key"))
	for _, v := range r.Header.Values("Authorization") {
		if scheme, cred, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
			found = append(found, cred)
		} else if strings.EqualFold(v, "Bearer") {
			found = append(found, "")
		}
	}
	found = append(found, r.Header.Values(HeaderToken)...)
	if vs, ok := r.URL.Query()["token"]; ok {
		found = append(found, vs...)
	}
	if len(found) == 0 {
		return "", fail(ReasonMissing, "an API key is required (X-API-Key, Authorization: Bearer, or token)")
	}
	key := ""
	for _, v := range found {
		v = strings.TrimSpace(v)
		if v == "" {
			return "", fail(ReasonEmpty, "the API key is empty")
		}
		if key != "" && v != key {
			return "", fail(ReasonConflicting, "the request carries two different API keys; send one")
		}
		key = v
	}
	return key, nil
}

// Authenticate finds who r comes from. It returns the principal, or a
// *Failure, or another error (the store failing). For a signed request it
// reads the body (at most httpapi.MaxBodyBytes) to hash it, and puts it back.
func (s *Service) Authenticate(r *http.Request) (*Principal, error) {
	token, err := PresentedKey(r)
	if err != nil {
		return nil, err
	}
	if len(token) > 512 {
		return nil, fail(ReasonMalformed, "the API key is not valid: it is longer than 512 characters")
	}
	if why := malformed(token); why != "" {
		return nil, fail(ReasonMalformed, "the API key is not valid: "+why)
	}
	c, err := s.lookup(r.Context(), token)
	if err != nil {
		return nil, err
	}
	k := c.key
	now := s.now()
	switch {
	case !k.RevokedAt.IsZero():
		return nil, fail(ReasonRevoked, "the API key was revoked")
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return nil, fail(ReasonExpired, "the API key expired")
	}
	if k.Signed() {
		if err := s.verifySignature(r, k, c.secret, now); err != nil {
			return nil, err
		}
	}
	return principalOf(k), nil
}

// verifySignature checks a signed-mode request: mode, timestamp, signature,
// then replay, in that order, so that garbage never reaches the store.
func (s *Service) verifySignature(r *http.Request, k *store.Key, secret string, now time.Time) error {
	signStr := strings.TrimSpace(r.Header.Get(HeaderSignStr))
	if signStr == "" {
		return fail(ReasonModeMismatch, "this is a signed-mode key: the request must carry sign_str, timestamp and version")
	}
	tsText := strings.TrimSpace(r.Header.Get(HeaderTimestamp))
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ts <= 0 {
		return fail(ReasonBadTimestamp, "the timestamp header must be Unix time in milliseconds, e.g. 1747379023000")
	}
	// Milliseconds since 1970 passed 10^11 in 1973; seconds will not reach
	// it for three thousand years.
	if ts < 1e11 {
		return &Failure{Reason: ReasonTimestampSeconds,
			Message: fmt.Sprintf("the timestamp %d is in seconds; send milliseconds (%d)", ts, ts*1000)}
	}
	at := time.UnixMilli(ts)
	if d := now.Sub(at); d > s.skew || d < -s.skew {
		return &Failure{Reason: ReasonTimestampSkew,
			Message: fmt.Sprintf("the timestamp is %s from the server's clock; at most %s is allowed", d.Round(time.Second).Abs(), s.skew)}
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	path := r.URL.EscapedPath()
	if uri := r.RequestURI; strings.HasPrefix(uri, "/") {
		path, _, _ = strings.Cut(uri, "?")
	}
	canonical, err := api.Canonical(r.Method, path, r.URL.RawQuery, tsText, r.Header.Get(HeaderVersion), body)
	if err != nil {
		return fail(ReasonBadSignature, "the query string does not parse, so it cannot be signed: "+err.Error())
	}
	if !validSignature(secret, canonical, signStr) {
		return fail(ReasonBadSignature, "sign_str does not match the request (see docs/signing.md)")
	}
	fresh, err := s.store.SignatureRemember(r.Context(), &store.SignatureRememberParams{
		KeyID: k.ID, Signature: strings.ToLower(signStr), ExpiresAt: at.Add(2 * s.skew), Now: now,
	})
	if err != nil {
		return err
	}
	if !fresh {
		return fail(ReasonReplayed, "this signature was used before: sign every request afresh")
	}
	return nil
}

// ForgetSignatures purges signatures that have left the replay window: a
// leader duty (maintenance.Signatures).
func (s *Service) ForgetSignatures(ctx context.Context) error {
	_, err := s.store.SignatureForget(ctx, &store.SignatureForgetParams{Before: s.now()})
	return err
}

// readBody reads r's body under the cap and puts it back for the handler.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxBodyBytes+1))
	r.Body.Close()
	if err != nil {
		return nil, domain.Errorf(domain.CodeInvalidJSON, "reading the body: %v", err)
	}
	if len(body) > httpapi.MaxBodyBytes {
		return nil, domain.Errorf(domain.CodePayloadTooLarge, "the body is over %d bytes", httpapi.MaxBodyBytes).With("limit_bytes", httpapi.MaxBodyBytes)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// isFailure reports whether err is a refusal rather than a fault.
func isFailure(err error) bool {
	var f *Failure
	return errors.As(err, &f)
}
