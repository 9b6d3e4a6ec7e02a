// Package web is the HTTP plumbing Drover's listeners share: the native
// envelope, the mapping from domain errors to status codes, strict JSON
// decoding under a size cap, request ids, panic recovery, and a router that
// answers unknown routes and wrong methods in the envelope too.
package web

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
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
)

// MaxBodyBytes is the default cap on a request body.
const MaxBodyBytes = 1 << 20

// Status maps an error code to its HTTP status (document 001's table, then ours).
func Status(code domain.Code) int {
	switch code {
	case domain.CodeDeviceNotFound, domain.CodeTaskNotFound, domain.CodeNotFound:
		return http.StatusNotFound
	case domain.CodeInvalidTaskType, domain.CodeDeviceOffline, domain.CodeInsufficientResources,
		domain.CodeValidation, domain.CodeInvalidJSON:
		return http.StatusBadRequest
	case domain.CodeAuthenticationNeeded, domain.CodeWorkerUnknown, domain.CodeBadSignature, domain.CodeReplayed,
		domain.CodeTimestampSkew, domain.CodeTimestampInSeconds, domain.CodeModeMismatch:
		return http.StatusUnauthorized
	case domain.CodeConflictingKeys:
		return http.StatusBadRequest
	case domain.CodeKeyNotFound:
		return http.StatusNotFound
	case domain.CodePermissionDenied:
		return http.StatusForbidden
	case domain.CodeRateLimitExceeded:
		return http.StatusTooManyRequests
	case domain.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case domain.CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.CodeTaskNotCancellable, domain.CodeTaskNotRetryable, domain.CodeIdempotencyConflict,
		domain.CodeStaleLease, domain.CodeDeviceBusy:
		return http.StatusConflict
	case domain.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID is the id of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithRequestID gives every request an id — the caller's X-Request-ID when
// it is sane, else a new one — and echoes it in the answer.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 128 || strings.ContainsAny(id, "\r\n") {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// newRequestID returns a random UUID, as document 001 shows request ids.
func newRequestID() string { return uuid.NewString() }

// Recover turns a panic in a handler into a logged 500 in the envelope, so
// no input takes the server down with it.
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				WriteError(w, r, domain.Errorf(domain.CodeInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// WriteJSON writes v as the data of a success envelope.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, data any) {
	WriteEnvelope(w, r, status, data, "")
}

// WriteEnvelope writes a success envelope with an optional message.
func WriteEnvelope(w http.ResponseWriter, r *http.Request, status int, data any, message string) {
	raw, err := marshal(data)
	if err != nil {
		WriteError(w, r, fmt.Errorf("encoding answer: %w", err))
		return
	}
	write(w, status, api.Envelope{
		Status: "success", Data: raw, Message: message,
		Timestamp: time.Now().UTC(), RequestID: RequestID(r.Context()),
	})
}

// WriteError writes err as an error envelope. A *domain.Error keeps its code
// and details; anything else is an INTERNAL_ERROR whose text is logged, not shown.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	write(w, Status(e.Code), api.Envelope{
		Status:    "error",
		Error:     &api.Error{Code: string(e.Code), Message: e.Message, Details: e.Details},
		Timestamp: time.Now().UTC(), RequestID: RequestID(r.Context()),
	})
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

// marshal is json.Marshal without HTML escaping: answers are JSON for
// programs, and a shell payload should read "2>&1", not "2\u003e\u00261".
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func write(w http.ResponseWriter, status int, env api.Envelope) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(env)
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
	case strings.HasPrefix(goType, "map"):
		return "an object"
	}
	return "an object"
}

// Router is an http.ServeMux that also answers, in the envelope, paths it
// does not serve (404) and methods a path does not take (405, with Allow).
type Router struct {
	mux    *http.ServeMux
	routes []string
}

// NewRouter makes an empty router.
func NewRouter() *Router {
	return &Router{mux: http.NewServeMux()}
}

// Handle serves method+path with h, which returns an error to be written
// in the envelope.
func (rt *Router) Handle(method, path string, h func(http.ResponseWriter, *http.Request) error) {
	rt.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
	rt.routes = append(rt.routes, method+" "+path)
}

// Routes lists the served "METHOD path" patterns, sorted: the OpenAPI test
// checks the document against it.
func (rt *Router) Routes() []string {
	out := append([]string(nil), rt.routes...)
	sort.Strings(out)
	return out
}

// ServeHTTP dispatches to the registered handlers. The mux answers unknown
// paths (404) and known paths with a wrong method (405) itself, in plain
// text; those answers are replaced by the envelope (keeping Allow).
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := rt.mux.Handler(r); pattern == "" {
		w = &muxAnswer{ResponseWriter: w, r: r}
	}
	rt.mux.ServeHTTP(w, r)
}

// muxAnswer rewrites the mux's own 404 and 405 as envelopes.
type muxAnswer struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (m *muxAnswer) WriteHeader(code int) {
	var err *domain.Error
	switch code {
	case http.StatusNotFound:
		err = domain.Errorf(domain.CodeNotFound, "no route %s %s", m.r.Method, m.r.URL.Path).With("path", m.r.URL.Path)
	case http.StatusMethodNotAllowed:
		err = domain.Errorf(domain.CodeMethodNotAllowed, "%s is not allowed on %s", m.r.Method, m.r.URL.Path).
			With("allow", strings.Split(m.Header().Get("Allow"), ", "))
	default:
		m.ResponseWriter.WriteHeader(code)
		return
	}
	m.replaced = true
	m.Header().Del("X-Content-Type-Options")
	WriteError(m.ResponseWriter, m.r, err)
}

func (m *muxAnswer) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}
