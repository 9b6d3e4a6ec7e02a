package dispatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drover-run/drover/internal/domain"
)

// Limits on what a task request may ask for.
const (
	MaxBatch        = 1000
	MaxTimeout      = 7 * 24 * 3600 // seconds
	MaxRetries      = 100
	MaxDelaySeconds = 30 * 24 * 3600
	MaxLabels       = 64
	MaxKeyLen       = 255
	MaxPayloadBytes = 256 << 10
)

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:@/-]{1,128}$`)

// TaskRequest is a task as a client asks for it, before the engine has
// validated it: optional fields are pointers, left nil for the cluster's
// defaults. Every way in (the native API, a workflow's step) submits
// through it, so every task meets the same rules.
type TaskRequest struct {
	Type           string
	Payload        json.RawMessage
	Priority       string // "low", "normal" (default), "high", "critical"
	Queue          string // default FifoQ
	Host           string // target host: the task goes to queue pinned_{host}
	DeviceID       string // pin to one worker
	Requirements   *domain.Requirements
	Timeout        *int     // seconds
	MaxRetries     *int     // attempts after the first
	RetryBackoff   *float64 // seconds: base of the exponential backoff
	Delay          *float64 // seconds before it may start
	RunAt          *time.Time
	IdempotencyKey string
	Labels         map[string]string
}

// ValidQueueName reports whether name may name a queue.
func ValidQueueName(name string) bool { return queueNameRE.MatchString(name) }

// Spec validates req and turns it into the spec of a new task (Submit
// fills in the rest). A refusal names the field.
func (s *Service) Spec(req *TaskRequest) (*domain.Task, error) {
	bad := func(field, format string, args ...any) error {
		return domain.Errorf(domain.CodeValidation, format, args...).With("field", field)
	}
	t := &domain.Task{Type: req.Type, Queue: req.Queue, DeviceID: req.DeviceID, IdempotencyKey: req.IdempotencyKey, MaxRetries: -1}
	if req.Type == "" {
		return nil, bad("task_type", "task_type is required")
	}
	if !domain.ValidTypeName(req.Type) {
		return nil, domain.Errorf(domain.CodeInvalidTaskType, "task type '%s' is not a valid name (letters, digits, _.:/-; at most 128)", req.Type).With("task_type", req.Type)
	}
	payload, err := compactPayload(req.Payload)
	if err != nil {
		return nil, err
	}
	if err := domain.ValidateBuiltinPayload(req.Type, payload); err != nil {
		return nil, bad("payload", "%v", err)
	}
	t.Payload = payload
	if t.Priority, err = domain.ParsePriority(req.Priority); err != nil {
		return nil, bad("priority", "%v", err)
	}
	if t.Queue != "" && !ValidQueueName(t.Queue) {
		return nil, bad("queue", "queue must be 1 to 128 letters, digits or _.:@/-")
	}
	if t.Queue, err = domain.QueueForHost(t.Queue, req.Host); err != nil {
		return nil, err
	}
	if len(t.DeviceID) > 255 {
		return nil, bad("device_id", "device_id is too long")
	}
	if req.Requirements != nil {
		if t.Requirements, err = requirements(*req.Requirements); err != nil {
			return nil, err
		}
	}
	if req.Timeout != nil {
		if *req.Timeout < 1 || *req.Timeout > MaxTimeout {
			return nil, bad("timeout", "timeout must be between 1 and %d seconds", MaxTimeout)
		}
		t.TimeoutSeconds = *req.Timeout
	}
	if req.MaxRetries != nil {
		if *req.MaxRetries < 0 || *req.MaxRetries > MaxRetries {
			return nil, bad("max_retries", "max_retries must be between 0 and %d", MaxRetries)
		}
		t.MaxRetries = *req.MaxRetries
	}
	if req.RetryBackoff != nil {
		if b := *req.RetryBackoff; b < 0 || b > 86400 {
			return nil, bad("retry_backoff_seconds", "retry_backoff_seconds must be between 0 and 86400")
		}
		t.RetryBackoff = time.Duration(*req.RetryBackoff * float64(time.Second))
	}
	switch {
	case req.Delay != nil && req.RunAt != nil:
		return nil, bad("run_at", "give delay_seconds or run_at, not both")
	case req.Delay != nil:
		if d := *req.Delay; d < 0 || d > MaxDelaySeconds {
			return nil, bad("delay_seconds", "delay_seconds must be between 0 and %d", MaxDelaySeconds)
		}
		t.AvailableAt = s.now().Add(time.Duration(*req.Delay * float64(time.Second)))
	case req.RunAt != nil:
		if req.RunAt.After(s.now().Add(MaxDelaySeconds * time.Second)) {
			return nil, bad("run_at", "run_at is more than %d days ahead", MaxDelaySeconds/86400)
		}
		t.AvailableAt = *req.RunAt
	}
	if len(req.IdempotencyKey) > MaxKeyLen {
		return nil, bad("idempotency_key", "idempotency_key is longer than %d characters", MaxKeyLen)
	}
	if strings.HasPrefix(req.IdempotencyKey, domain.EngineKeyPrefix) {
		return nil, bad("idempotency_key", "idempotency keys starting with '%s' are reserved for the engine's own tasks", domain.EngineKeyPrefix)
	}
	if len(req.Labels) > MaxLabels {
		return nil, bad("labels", "at most %d labels", MaxLabels)
	}
	t.Labels = req.Labels
	if err := plainText(req); err != nil {
		return nil, err
	}
	if t.IdempotencyKey != "" {
		t.RequestHash = requestHash(t, req)
	}
	return t, nil
}

// plainText refuses text no store keeps alike: NUL characters (PostgreSQL
// refuses them, SQLite would keep them) and invalid UTF-8.
func plainText(req *TaskRequest) error {
	check := func(field, v string) error {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return domain.Errorf(domain.CodeValidation, "%s holds a NUL character or invalid UTF-8", field).With("field", field)
		}
		return nil
	}
	fields := map[string]string{"device_id": req.DeviceID, "idempotency_key": req.IdempotencyKey, "payload": string(req.Payload)}
	if bytes.Contains(req.Payload, []byte(`\u0000`)) {
		return check("payload", "\x00")
	}
	for k, v := range req.Labels {
		fields["labels."+k] = k + v
	}
	if r := req.Requirements; r != nil {
		fields["requirements.platform"], fields["requirements.role"] = r.Platform, r.Role
		for k, v := range r.Labels {
			fields["requirements.labels."+k] = k + v
		}
	}
	for f, v := range fields {
		if err := check(f, v); err != nil {
			return err
		}
	}
	return nil
}

// The largest requirements any device is taken to meet.
const (
	MaxCPUCores = 4096
	MaxMemoryGB = 1 << 20
)

func requirements(r domain.Requirements) (domain.Requirements, error) {
	bad := func(field, format string, args ...any) error {
		return domain.Errorf(domain.CodeValidation, format, args...).With("field", "requirements."+field)
	}
	// More than any device could have is a well-formed request the cluster
	// cannot serve (document 001's INSUFFICIENT_RESOURCES, as when no
	// registered device is big enough); a malformed value (negative here;
	// fractional or beyond the integer type when decoded) is a validation
	// error.
	more := func(field string, v any, most any) error {
		return domain.Errorf(domain.CodeInsufficientResources, "%s %v is more than any device has (at most %v)", field, v, most).
			With("field", "requirements."+field).With("requirements", r)
	}
	switch {
	case r.MinCPUCores < 0:
		return domain.Requirements{}, bad("min_cpu_cores", "min_cpu_cores must not be negative")
	case r.MinCPUCores > MaxCPUCores:
		return domain.Requirements{}, more("min_cpu_cores", r.MinCPUCores, MaxCPUCores)
	case r.MinMemoryGB < 0:
		return domain.Requirements{}, bad("min_memory_gb", "min_memory_gb must not be negative")
	case r.MinMemoryGB > MaxMemoryGB:
		return domain.Requirements{}, more("min_memory_gb", r.MinMemoryGB, MaxMemoryGB)
	case len(r.Platform) > 64:
		return domain.Requirements{}, bad("platform", "platform is too long")
	case len(r.Role) > 64:
		return domain.Requirements{}, bad("role", "role is too long")
	case len(r.Labels) > MaxLabels:
		return domain.Requirements{}, bad("labels", "at most %d labels", MaxLabels)
	}
	r.Platform = strings.ToLower(r.Platform)
	return r, nil
}

// compactPayload checks the payload's size and stores it compact; absent
// means an empty object.
func compactPayload(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), nil
	}
	if len(raw) > MaxPayloadBytes {
		return nil, domain.Errorf(domain.CodeValidation, "payload is over %d bytes", MaxPayloadBytes).With("field", "payload")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, domain.Errorf(domain.CodeInvalidJSON, "payload is not valid JSON").With("field", "payload")
	}
	return b.Bytes(), nil
}

// requestHash fingerprints a request, to tell a replay (same key, same
// request) from a key reused for something else. It hashes the validated
// spec, so a replay that spells out a default ("priority": "normal",
// "queue": "FifoQ") is the same request.
func requestHash(t *domain.Task, req *TaskRequest) string {
	queue := t.Queue
	if queue == "" {
		queue = domain.DefaultQueue
	}
	raw, _ := json.Marshal(struct {
		Type, Queue, DeviceID string
		Payload               json.RawMessage
		Priority              domain.Priority
		Requirements          domain.Requirements
		Timeout, MaxRetries   int
		RetryBackoff          time.Duration
		Delay                 *float64
		RunAt                 *time.Time
		Labels                map[string]string
	}{t.Type, queue, t.DeviceID, t.Payload, t.Priority, t.Requirements, t.TimeoutSeconds, t.MaxRetries, t.RetryBackoff,
		req.Delay, req.RunAt, t.Labels})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// SubmitRequests validates reqs, checks that actor may create them, and
// submits them all or none: a refusal names the index of the request.
// Every shell task is recorded in the cluster log with who asked for it:
// it is code execution on a worker, and its trail must outlive the task.
func (s *Service) SubmitRequests(ctx context.Context, actor domain.Actor, reqs []TaskRequest) ([]Submitted, error) {
	if len(reqs) == 0 || len(reqs) > MaxBatch {
		return nil, domain.Errorf(domain.CodeValidation, "tasks must hold 1 to %d tasks, not %d", MaxBatch, len(reqs)).With("field", "tasks")
	}
	specs := make([]*domain.Task, len(reqs))
	for i := range reqs {
		spec, err := s.Spec(&reqs[i])
		if err == nil {
			err = actor.MayRun(spec.Type)
		}
		if err != nil {
			if e, ok := err.(*domain.Error); ok && len(reqs) > 1 {
				e.With("index", i)
			}
			return nil, err
		}
		specs[i] = spec
	}
	out, err := s.Submit(ctx, specs)
	if err != nil {
		return nil, err
	}
	for _, o := range out {
		s.auditShell(actor, o)
	}
	return out, nil
}

// auditShell records who submitted a shell task, and what it runs.
func (s *Service) auditShell(actor domain.Actor, o Submitted) {
	if o.Task.Type != domain.TypeShell || o.Duplicate {
		return
	}
	s.log.Info("shell task submitted", "component", "audit", "task_id", o.Task.ID, "by", actor.String(),
		"remote_addr", actor.Addr, "payload", string(o.Task.Payload))
}
