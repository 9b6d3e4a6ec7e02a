// Package elastic is document 000's dialect: the node-count API of an
// elastic deployment, POST /api/deployment/task/change_points, served on
// the main port. A document-000 "task" is a Drover pool (task_id = pool
// id) and its "points" are the pool's desired workers. The package holds a
// route table, the document's envelope and nothing else: the pool engine
// (scale) does the work, and app's guard authenticates (a simple-mode key
// in the token header, or a signed one checked as DESIGN.md §6 says).
package elastic

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/scale"
)

// ChangePointsPath is document 000's endpoint.
const ChangePointsPath = "/api/deployment/task/change_points"

// Deps are the engine services the dialect needs.
type Deps struct {
	Pools *scale.Service
}

// Request is change_points' body.
type Request struct {
	TaskID *int64 `json:"task_id"` // the pool's id
	Points *int   `json:"points"`  // its desired size
}

// Answer is the document's envelope: code "0000" on success, else one of
// the codes in SEED-CHECKLIST.md's last section; data is always null.
type Answer struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// Routes is the dialect's route table.
func Routes(deps Deps) []httpapi.Route {
	h := &handler{pools: deps.Pools}
	return []httpapi.Route{{
		Method: "POST", Path: ChangePointsPath, Access: httpapi.Write, Tag: "elastic (document 000)",
		Summary: "Change a pool's node count (document 000: task_id = pool id, points = desired workers)",
		Params: []httpapi.Param{
			{Name: "token", In: "header", Type: "string", Desc: "API key (simple or signature mode)"},
			{Name: "timestamp", In: "header", Type: "string", Desc: "request time in milliseconds"},
			{Name: "version", In: "header", Type: "string", Desc: "API version, e.g. 1.0.0"},
			{Name: "sign_str", In: "header", Type: "string", Desc: "signature (signature mode only)"},
		},
		Request: Request{}, Response: nil, Raw: "application/json", Errors: WriteError, Handler: h.changePoints,
	}}
}

type handler struct {
	pools *scale.Service
}

func (h *handler) changePoints(w http.ResponseWriter, r *http.Request) error {
	if err := checkHeaders(r); err != nil {
		return err
	}
	var req Request
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	switch {
	case req.TaskID == nil:
		return domain.Errorf(domain.CodeValidation, "task_id is required").With("field", "task_id")
	case req.Points == nil:
		return domain.Errorf(domain.CodeValidation, "points is required").With("field", "points")
	case *req.TaskID <= 0:
		return domain.Errorf(domain.CodeValidation, "task_id must be a positive integer").With("field", "task_id")
	case *req.Points < 0:
		return domain.Errorf(domain.CodeValidation, "points must not be negative").With("field", "points")
	}
	actor := "change_points"
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		actor += " key " + p.KeyID
	}
	if _, _, err := h.pools.Scale(r.Context(), *req.TaskID, *req.Points, actor, "version "+r.Header.Get("version")); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, Answer{Code: "0000", Message: "success"})
	return nil
}

// checkHeaders requires the document's headers: token (the key; any value
// when authentication is off, as the document's placeholder), timestamp in
// milliseconds, and version. sign_str may be empty (simple mode).
func checkHeaders(r *http.Request) error {
	if strings.TrimSpace(r.Header.Get("token")) == "" && auth.PrincipalFrom(r.Context()) == nil {
		return domain.Errorf(domain.CodeAuthenticationNeeded, "the token header is required").With("field", "token")
	}
	ts := r.Header.Get("timestamp")
	if ts == "" {
		return domain.Errorf(domain.CodeValidation, "the timestamp header (milliseconds) is required").With("field", "timestamp")
	}
	if n, err := strconv.ParseInt(ts, 10, 64); err != nil || n <= 0 {
		return domain.Errorf(domain.CodeValidation, "the timestamp header must be a time in milliseconds, e.g. 1747379023000").With("field", "timestamp")
	}
	if strings.TrimSpace(r.Header.Get("version")) == "" {
		return domain.Errorf(domain.CodeValidation, "the version header is required, e.g. 1.0.0").With("field", "version")
	}
	return nil
}

// Code is the document-000 code and HTTP status of an error code.
func Code(c domain.Code) (string, int) {
	switch c {
	case domain.CodeAuthenticationNeeded, domain.CodeBadSignature, domain.CodeReplayed, domain.CodeTimestampSkew,
		domain.CodeTimestampInSeconds, domain.CodeModeMismatch, domain.CodeKeyNotFound, domain.CodeConflictingKeys:
		return "4001", http.StatusUnauthorized
	case domain.CodePermissionDenied:
		return "4003", http.StatusForbidden
	case domain.CodeNotFound, domain.CodeTaskNotFound, domain.CodeDeviceNotFound:
		return "4004", http.StatusNotFound
	case domain.CodeRateLimitExceeded:
		return "4029", http.StatusTooManyRequests
	case domain.CodeValidation, domain.CodeInvalidJSON, domain.CodePayloadTooLarge, domain.CodeMethodNotAllowed,
		domain.CodeHeaderTooLarge:
		return "4000", http.StatusBadRequest
	case domain.CodeUnavailable:
		return "5000", http.StatusServiceUnavailable
	}
	return "5000", http.StatusInternalServerError
}

// WriteError writes err in the document's envelope: an httpapi.ErrorFunc,
// used for the route's own errors and for the guard's refusals.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := httpapi.AsError(err)
	code, status := Code(e.Code)
	httpapi.WriteJSON(w, status, Answer{Code: code, Message: e.Message})
}

var _ httpapi.ErrorFunc = WriteError
