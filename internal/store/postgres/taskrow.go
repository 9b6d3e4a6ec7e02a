package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
)

// taskColumns is the column list every statement returning tasks selects, in
// scanTask's order. Statements alias tasks as t.
const taskColumns = `t.id, t.type, t.payload, t.priority, t.queue, t.device_id,
	t.min_cpu_cores, t.min_memory_gb, t.platform, t.role, t.req_labels,
	t.timeout_seconds, t.max_retries, t.retry_backoff, coalesce(t.idempotency_key, ''),
	t.request_hash, t.original_task_id, t.labels,
	t.state, t.attempt, t.lease_owner, t.lease_epoch, t.lease_expires_at, t.available_at,
	t.last_device_id, t.created_at, t.started_at, t.completed_at,
	t.result, t.resource_usage, t.error`

// scanTask reads one row of taskColumns.
func scanTask(row pgx.CollectableRow) (*domain.Task, error) {
	var (
		t                                domain.Task
		reqLabels, labels, result, usage []byte
		priority                         int32
		leaseExpires, started, completed *time.Time
		state                            string
		available, created               time.Time
	)
	err := row.Scan(&t.ID, &t.Type, &t.Payload, &priority, &t.Queue, &t.DeviceID,
		&t.Requirements.MinCPUCores, &t.Requirements.MinMemoryGB, &t.Requirements.Platform, &t.Requirements.Role, &reqLabels,
		&t.TimeoutSeconds, &t.MaxRetries, &t.RetryBackoff, &t.IdempotencyKey,
		&t.RequestHash, &t.OriginalTaskID, &labels,
		&state, &t.Attempt, &t.LeaseOwner, &t.LeaseEpoch, &leaseExpires, &available,
		&t.LastDeviceID, &created, &started, &completed,
		&result, &usage, &t.Error)
	if err != nil {
		return nil, err
	}
	t.Priority = domain.Priority(priority)
	t.State = domain.TaskState(state)
	t.AvailableAt, t.CreatedAt = available.UTC(), created.UTC()
	t.LeaseExpiresAt, t.StartedAt, t.CompletedAt = timeOf(leaseExpires), timeOf(started), timeOf(completed)
	if err := unmarshalNullable(reqLabels, &t.Requirements.Labels); err != nil {
		return nil, fmt.Errorf("task %s: req_labels: %w", t.ID, err)
	}
	if err := unmarshalNullable(labels, &t.Labels); err != nil {
		return nil, fmt.Errorf("task %s: labels: %w", t.ID, err)
	}
	if err := unmarshalNullable(result, &t.Result); err != nil {
		return nil, fmt.Errorf("task %s: result: %w", t.ID, err)
	}
	if err := unmarshalNullable(usage, &t.ResourceUsage); err != nil {
		return nil, fmt.Errorf("task %s: resource_usage: %w", t.ID, err)
	}
	return &t, nil
}

// timeOf reads a nullable timestamptz: NULL is the zero time.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// timeArg passes a time as a nullable timestamptz: the zero time is NULL.
// Statements read a Now argument as coalesce($n, now()), so a zero Now means
// the database's clock.
func timeArg(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// unmarshalNullable decodes a nullable JSON column into v, leaving v as it is
// (nil) for NULL.
func unmarshalNullable(data []byte, v any) error {
	if data == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// jsonArg encodes v for a nullable json or jsonb column: a nil map or pointer
// is NULL, so what comes back is what went in.
func jsonArg[T any](v T, isNil bool) (*string, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// rawArg passes raw JSON for a nullable json column; empty is NULL.
func rawArg(raw json.RawMessage) *string {
	if len(raw) == 0 {
		return nil
	}
	s := string(raw)
	return &s
}

// taskArgs is a batch of tasks as column arrays, for INSERT … SELECT FROM
// unnest(…): one statement and one round trip however many tasks there are.
// Every field is stored as the caller formed it.
type taskArgs struct {
	id, typ, queue, deviceID, platform, role, requestHash, originalID []string
	state, leaseOwner, lastDevice, errText                            []string
	payload, reqLabels, labels, idempotencyKey, result, usage         []*string
	// int, not int32: pgx refuses a value beyond the int4 column with an
	// error, where a conversion here would wrap it silently.
	priority, minCPU, timeout, maxRetries, attempt       []int
	minMemory                                            []float64
	leaseEpoch                                           []int64
	retryBackoff                                         []time.Duration
	leaseExpires, available, created, started, completed []*time.Time
}

func newTaskArgs(tasks []*domain.Task) (*taskArgs, error) {
	a := &taskArgs{}
	for _, t := range tasks {
		if err := a.add(t); err != nil {
			return nil, fmt.Errorf("task %s: %w", t.ID, err)
		}
	}
	return a, nil
}

func (a *taskArgs) add(t *domain.Task) error {
	reqLabels, err := jsonArg(t.Requirements.Labels, t.Requirements.Labels == nil)
	if err != nil {
		return err
	}
	labels, err := jsonArg(t.Labels, t.Labels == nil)
	if err != nil {
		return err
	}
	result, err := jsonArg(t.Result, t.Result == nil)
	if err != nil {
		return err
	}
	usage, err := jsonArg(t.ResourceUsage, t.ResourceUsage == nil)
	if err != nil {
		return err
	}
	var key *string
	if t.IdempotencyKey != "" {
		key = &t.IdempotencyKey
	}
	state := t.State
	if state == "" {
		state = domain.TaskPending
	}
	a.id = append(a.id, t.ID)
	a.typ = append(a.typ, t.Type)
	a.payload = append(a.payload, rawArg(t.Payload))
	a.priority = append(a.priority, int(t.Priority))
	a.queue = append(a.queue, t.Queue)
	a.deviceID = append(a.deviceID, t.DeviceID)
	a.minCPU = append(a.minCPU, t.Requirements.MinCPUCores)
	a.minMemory = append(a.minMemory, t.Requirements.MinMemoryGB)
	a.platform = append(a.platform, t.Requirements.Platform)
	a.role = append(a.role, t.Requirements.Role)
	a.reqLabels = append(a.reqLabels, reqLabels)
	a.timeout = append(a.timeout, t.TimeoutSeconds)
	a.maxRetries = append(a.maxRetries, t.MaxRetries)
	a.retryBackoff = append(a.retryBackoff, t.RetryBackoff)
	a.idempotencyKey = append(a.idempotencyKey, key)
	a.requestHash = append(a.requestHash, t.RequestHash)
	a.originalID = append(a.originalID, t.OriginalTaskID)
	a.labels = append(a.labels, labels)
	a.state = append(a.state, string(state))
	a.attempt = append(a.attempt, t.Attempt)
	a.leaseOwner = append(a.leaseOwner, t.LeaseOwner)
	a.leaseEpoch = append(a.leaseEpoch, t.LeaseEpoch)
	a.leaseExpires = append(a.leaseExpires, timeArg(t.LeaseExpiresAt))
	a.available = append(a.available, timeArg(t.AvailableAt))
	a.lastDevice = append(a.lastDevice, t.LastDeviceID)
	a.created = append(a.created, timeArg(t.CreatedAt))
	a.started = append(a.started, timeArg(t.StartedAt))
	a.completed = append(a.completed, timeArg(t.CompletedAt))
	a.result = append(a.result, result)
	a.usage = append(a.usage, usage)
	a.errText = append(a.errText, t.Error)
	return nil
}

// args is the arrays in the order of insertTasksSQL's parameters.
func (a *taskArgs) args() []any {
	return []any{a.id, a.typ, a.payload, a.priority, a.queue, a.deviceID,
		a.minCPU, a.minMemory, a.platform, a.role, a.reqLabels,
		a.timeout, a.maxRetries, a.retryBackoff, a.idempotencyKey,
		a.requestHash, a.originalID, a.labels,
		a.state, a.attempt, a.leaseOwner, a.leaseEpoch, a.leaseExpires, a.available,
		a.lastDevice, a.created, a.started, a.completed,
		a.result, a.usage, a.errText}
}
