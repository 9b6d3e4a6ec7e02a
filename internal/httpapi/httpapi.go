// Package httpapi is the HTTP plumbing every Drover listener shares, and
// nothing dialect-specific: the route declaration, a router that answers
// unknown routes and wrong methods, panic recovery, request ids, strict JSON
// decoding under a size cap, and query-parameter parsing. Every error is
// written through the listener's ErrorFunc, so each dialect (the native
// API, Keeper, NetPulse, change_points) answers in its own envelope.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/drover-run/drover/internal/domain"
)

// MaxBodyBytes is the default cap on a request body.
const MaxBodyBytes = 1 << 20

// Request headers have two limits. MaxHeaderBytes is the budget every
// listener enforces itself, first in its handler chain, so a request over it
// is answered 431 in the listener's own envelope, with a request id.
// HardMaxHeaderBytes is the http.Server's MaxHeaderBytes: net/http stops
// reading there (plus its 4 KiB slack), before any handler runs, and answers
// 431 in its own plain text — a handler cannot see a request it never
// parsed, and reading on to reach one would let a client make the server
// buffer without bound. The gap between the two keeps a connection's header
// memory at HardMaxHeaderBytes while every request of a size clients really
// send (proxies cap headers at 8–64 KiB) gets a proper answer.
const (
	MaxHeaderBytes     = 64 << 10
	HardMaxHeaderBytes = 4 * MaxHeaderBytes
)

// ErrorFunc writes err in a listener's own error format. A *domain.Error
// keeps its code; any other error is an internal error whose text is not
// shown (AsError).
type ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	routeKey
)

// RequestID is the id of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// RouteOf is the route serving the request ctx belongs to, or nil.
func RouteOf(ctx context.Context) *Route {
	rt, _ := ctx.Value(routeKey).(*Route)
	return rt
}

// Build makes a listener's handler from its route table: the router
// (unknown routes and wrong methods answered through errs), wrapped by
// middleware in order (nil entries skipped; the first is innermost), then
// by request ids and panic recovery, outermost, so that every answer —
// a guard's refusal or a panic's 500 included — carries a request id.
func Build(routes []Route, errs ErrorFunc, log *slog.Logger, middleware ...func(http.Handler) http.Handler) (http.Handler, *Router) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	errs = logInternal(log, errs)
	rt := NewRouter(errs)
	rt.log = log
	rt.Add(routes...)
	var h http.Handler = rt
	for _, m := range middleware {
		if m != nil {
			h = m(h)
		}
	}
	return withRequestID(limitHeader(errs, recoverPanics(log, errs, h))), rt
}

// limitHeader refuses a request whose request line and headers are over
// MaxHeaderBytes, before any other middleware sees it.
func limitHeader(errs ErrorFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := HeaderSize(r); n > MaxHeaderBytes {
			errs(w, r, domain.Errorf(domain.CodeHeaderTooLarge, "the request's headers are %d bytes, over the %d-byte limit",
				n, MaxHeaderBytes).With("limit_bytes", MaxHeaderBytes))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HeaderSize is about the number of bytes r's request line and headers
// took on the wire (HTTP/1 framing; for HTTP/2 the decoded size).
func HeaderSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 // "GET /x HTTP/1.1\r\n"
	n += len("Host: \r\n") + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // "k: v\r\n"
		}
	}
	return n
}

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 128 || strings.ContainsAny(id, "\r\n") {
			id = uuid.NewString() // document 001 shows request ids as UUIDs
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// recoverPanics turns a panic in a handler into a logged internal error, so
// no input takes the server down with it.
func recoverPanics(log *slog.Logger, errs ErrorFunc, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panicked", "path", r.URL.Path, "request_id", RequestID(r.Context()),
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				errs(w, r, domain.Errorf(domain.CodeInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logInternal logs, with the request id and the cause, every error that
// will be answered as an internal error: the answer hides the cause, so
// the log is the only trace of it.
func logInternal(log *slog.Logger, errs ErrorFunc) ErrorFunc {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if e := AsError(err); e.Code == domain.CodeInternal || e.Code == domain.CodeStoreUnavailable {
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", RequestID(r.Context()),
				"code", e.Code, "err", err)
		}
		errs(w, r, err)
	}
}

// AsError is err as a *domain.Error; errors that carry no code become an
// opaque INTERNAL_ERROR (their text may hold internals).
func AsError(err error) *domain.Error {
	var e *domain.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return domain.Errorf(domain.CodeUnavailable, "the request was cancelled or timed out")
	}
	return domain.Errorf(domain.CodeInternal, "internal error")
}

// Marshal is json.Marshal without HTML escaping: answers are JSON for
// programs, and a shell payload should read "2>&1", not "2\u003e\u00261".
func Marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// WriteJSON writes v as the whole JSON answer, without HTML escaping.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Decode reads a JSON body into v: at most MaxBodyBytes, no unknown fields,
// no trailing data. An empty body decodes as {} when emptyOK.
func Decode(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	// The Content-Type is not checked: `curl -d '{…}'` sends a JSON body
	// labelled as a form, and refusing it would only annoy. A body that is
	// not JSON fails to decode, with a precise message.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return domain.Errorf(domain.CodePayloadTooLarge, "the body is over %d bytes", tooBig.Limit).With("limit_bytes", tooBig.Limit)
		}
		return domain.Errorf(domain.CodeInvalidJSON, "reading the body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			body = []byte("{}")
		} else {
			return domain.Errorf(domain.CodeInvalidJSON, "the body is empty; a JSON object is expected")
		}
	}
	return DecodeBytes(body, v)
}

// DecodeBytes decodes body into v strictly and explains failures precisely.
func DecodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return domain.Errorf(domain.CodeInvalidJSON, "the body holds more than one JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return domain.Errorf(domain.CodeInvalidJSON, "malformed JSON at byte %d: %v", syntax.Offset, err).With("offset", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return domain.Errorf(domain.CodeInvalidJSON, "the body must be a JSON %s, not %s", typ.Type.Kind(), typ.Value)
		}
		return domain.Errorf(domain.CodeValidation, "field '%s' must be %s, not %s", field, kindName(typ.Type.String()), typ.Value).
			With("field", field)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return domain.Errorf(domain.CodeInvalidJSON, "the JSON body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return domain.Errorf(domain.CodeValidation, "unknown field '%s'", name).With("field", name)
	}
	return domain.Errorf(domain.CodeInvalidJSON, "invalid JSON: %v", err)
}

func kindName(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case goType == "string" || goType == "*string":
		return "a string"
	case goType == "bool" || goType == "*bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "*[]"):
		return "an array"
	}
	return "an object"
}

// IntParam parses an integer query parameter within [lo, hi]; empty is def.
func IntParam(raw, name string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, domain.Errorf(domain.CodeValidation, "%s must be an integer between %d and %d", name, lo, hi).With("field", name)
	}
	return n, nil
}

// TimeParam parses an RFC 3339 time or Unix seconds; empty is the zero time.
func TimeParam(raw, name string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseFloat(raw, 64); err == nil && n >= 0 && n < 1e11 {
		return time.Unix(0, int64(n*1e9)), nil
	}
	return time.Time{}, domain.Errorf(domain.CodeValidation, "%s must be an RFC 3339 time or Unix seconds", name).With("field", name)
}
