// Package settings is the cluster configuration that GET and PUT
// /api/v1/config read and change at run time (document 001's shape:
// server, cluster, logging, plus metrics): typed, with defaults, validated
// field by field, persisted in the store's KV under one key, and applied at
// once where the running server can (heartbeat interval, offline
// threshold, default task timeout, log level, retention); the rest is
// reported as restart_required.
package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// KVKey is where the settings are persisted.
const KVKey = "cluster_config"

// Settings is the whole configuration, as GET /api/v1/config shows it.
type Settings struct {
	Server  Server  `json:"server"`
	Cluster Cluster `json:"cluster"`
	Logging Logging `json:"logging"`
	Metrics Metrics `json:"metrics"`
}

// Server is the API listener. Host and port are the command line's
// (--host, --port) and read-only here.
type Server struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// MaxConnections caps concurrent connections to the API port, 64 to
	// 1,000,000; a quarter of it (at least 8) from one address. Idle
	// connections make room for new ones, so the cap never locks clients
	// out. Taken at start: changing it needs a restart. Default 1000.
	MaxConnections int `json:"max_connections"`
	// MaxStreams caps concurrent GET /api/v1/monitor/stream connections
	// per server (document 001: 10). Applied at once.
	MaxStreams int `json:"max_streams"`
}

// Cluster is the engine's timing, in seconds.
type Cluster struct {
	HeartbeatInterval float64 `json:"heartbeat_interval"` // default 5
	OfflineThreshold  float64 `json:"offline_threshold"`  // default 30
	TaskTimeout       int     `json:"task_timeout"`       // a task's timeout when it names none; default 3600
}

// Logging is the cluster's stored log.
type Logging struct {
	Level     string `json:"level"`     // the least severe level recorded from the servers' own logs: debug, info, warning, error; default info
	MaxSize   string `json:"max_size"`  // cap on the stored log, e.g. "512MB" (counted as 512 bytes per event); default 1GB
	Retention string `json:"retention"` // how long events are kept, e.g. "72h", "7d"; default 72h
}

// Metrics is the metric history.
type Metrics struct {
	Retention string `json:"retention"` // hourly history kept, e.g. "30d"; minute history is kept 24h; default 30d
}

// Defaults are the settings of a fresh cluster.
func Defaults() Settings {
	return Settings{
		Server:  Server{Host: "127.0.0.1", Port: 8081, MaxConnections: 1000, MaxStreams: 10},
		Cluster: Cluster{HeartbeatInterval: 5, OfflineThreshold: 30, TaskTimeout: 3600},
		Logging: Logging{Level: "info", MaxSize: "1GB", Retention: "72h"},
		Metrics: Metrics{Retention: "30d"},
	}
}

// Seconds converts a settings duration in seconds.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// EventBytes is what one stored event is counted as against logging.max_size.
const EventBytes = 512

// MaxEvents is logging.max_size as a row cap.
func (l Logging) MaxEvents() int64 {
	n, _ := ParseSize(l.MaxSize)
	return n / EventBytes
}

// RetentionDuration is logging.retention.
func (l Logging) RetentionDuration() time.Duration {
	d, _ := ParseDuration(l.Retention)
	return d
}

// RetentionDuration is metrics.retention.
func (m Metrics) RetentionDuration() time.Duration {
	d, _ := ParseDuration(m.Retention)
	return d
}

// ParseSize reads "10MB", "512KB", "1GB", "100B" or a plain byte count.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 10MB", s)
	}
	return n * mult, nil
}

// ParseDuration reads a Go duration ("72h", "90m") or whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a duration like 72h or 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration like 72h or 7d", s)
	}
	return d, nil
}

// field is one settable field: how to read, check and store it.
type field struct {
	restart  bool   // takes effect only at the next start
	readOnly string // why it cannot be set here, if it cannot
	set      func(s *Settings, raw json.RawMessage) error
}

func number(dst func(*Settings) *float64, lo, hi float64) func(*Settings, json.RawMessage) error {
	return func(s *Settings, raw json.RawMessage) error {
		var v float64
		if err := strictDecode(raw, &v); err != nil {
			return fmt.Errorf("must be a number")
		}
		if v < lo || v > hi {
			return fmt.Errorf("must be between %g and %g", lo, hi)
		}
		*dst(s) = v
		return nil
	}
}

func integer(dst func(*Settings) *int, lo, hi int) func(*Settings, json.RawMessage) error {
	return func(s *Settings, raw json.RawMessage) error {
		var v int
		if err := strictDecode(raw, &v); err != nil {
			return fmt.Errorf("must be an integer")
		}
		if v < lo || v > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		*dst(s) = v
		return nil
	}
}

func text(dst func(*Settings) *string, check func(string) error) func(*Settings, json.RawMessage) error {
	return func(s *Settings, raw json.RawMessage) error {
		var v string
		if err := strictDecode(raw, &v); err != nil {
			return fmt.Errorf("must be a string")
		}
		if err := check(v); err != nil {
			return err
		}
		*dst(s) = v
		return nil
	}
}

func strictDecode(raw json.RawMessage, v any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return fmt.Errorf("null")
	}
	return json.Unmarshal(raw, v)
}

var fields = map[string]field{
	"server.host":                {readOnly: "it is set with --host when the server starts"},
	"server.port":                {readOnly: "it is set with --port when the server starts"},
	"server.max_connections":     {restart: true, set: integer(func(s *Settings) *int { return &s.Server.MaxConnections }, 64, 1_000_000)},
	"server.max_streams":         {set: integer(func(s *Settings) *int { return &s.Server.MaxStreams }, 1, 10_000)},
	"cluster.heartbeat_interval": {set: number(func(s *Settings) *float64 { return &s.Cluster.HeartbeatInterval }, 0.05, 3600)},
	"cluster.offline_threshold":  {set: number(func(s *Settings) *float64 { return &s.Cluster.OfflineThreshold }, 0.1, 7*86400)},
	"cluster.task_timeout":       {set: integer(func(s *Settings) *int { return &s.Cluster.TaskTimeout }, 1, 30*86400)},
	"logging.level": {set: text(func(s *Settings) *string { return &s.Logging.Level }, func(v string) error {
		if _, ok := domain.ParseLevel(v); !ok {
			return fmt.Errorf("must be one of debug, info, warning, error")
		}
		return nil
	})},
	"logging.max_size": {set: text(func(s *Settings) *string { return &s.Logging.MaxSize }, func(v string) error {
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		if n < 1<<20 {
			return fmt.Errorf("must be at least 1MB")
		}
		return nil
	})},
	"logging.retention": {set: text(func(s *Settings) *string { return &s.Logging.Retention }, func(v string) error {
		d, err := ParseDuration(v)
		if err == nil && d < time.Minute {
			err = fmt.Errorf("must be at least 1m")
		}
		return err
	})},
	"metrics.retention": {set: text(func(s *Settings) *string { return &s.Metrics.Retention }, func(v string) error {
		d, err := ParseDuration(v)
		if err == nil && d < 24*time.Hour {
			err = fmt.Errorf("must be at least 24h (minute history is kept for a day)")
		}
		return err
	})},
}

// Change is the outcome of a valid partial update.
type Change struct {
	Next            Settings
	UpdatedFields   []string // "section.field", sorted; fields set to their current value are included
	RestartRequired bool
}

// Update applies the partial document body (e.g. {"cluster":
// {"heartbeat_interval": 30}}) to cur. Every field is checked; if any is
// unknown, read-only, of the wrong type or out of range, nothing changes
// and the error's details list every problem.
func Update(cur Settings, body []byte) (*Change, error) {
	var doc map[string]json.RawMessage
	if err := strictDecode(body, &doc); err != nil || doc == nil {
		return nil, domain.Errorf(domain.CodeInvalidJSON, "the body must be a JSON object of sections (server, cluster, logging, metrics)")
	}
	next := cur
	ch := &Change{}
	var problems []map[string]string
	bad := func(name, msg string) { problems = append(problems, map[string]string{"field": name, "message": msg}) }
	for _, sec := range sortedKeys(doc) {
		var obj map[string]json.RawMessage
		if err := strictDecode(doc[sec], &obj); err != nil {
			bad(sec, "must be an object")
			continue
		}
		for _, key := range sortedKeys(obj) {
			name := sec + "." + key
			f, ok := fields[name]
			switch {
			case !ok:
				bad(name, "is not a setting")
			case f.readOnly != "":
				bad(name, "is read-only: "+f.readOnly)
			default:
				if err := f.set(&next, obj[key]); err != nil {
					bad(name, err.Error())
					continue
				}
				ch.UpdatedFields = append(ch.UpdatedFields, name)
				ch.RestartRequired = ch.RestartRequired || f.restart
			}
		}
	}
	if len(problems) == 0 && next.Cluster.OfflineThreshold <= next.Cluster.HeartbeatInterval {
		bad("cluster.offline_threshold", fmt.Sprintf("must exceed cluster.heartbeat_interval (%g)", next.Cluster.HeartbeatInterval))
	}
	if len(problems) > 0 {
		msg := make([]string, len(problems))
		for i, p := range problems {
			msg[i] = p["field"] + " " + p["message"]
		}
		return nil, domain.Errorf(domain.CodeValidation, "invalid configuration: %s", strings.Join(msg, "; ")).
			With("field", problems[0]["field"]).With("errors", problems)
	}
	if len(ch.UpdatedFields) == 0 {
		return nil, domain.Errorf(domain.CodeValidation, "the body names no setting")
	}
	ch.Next = next
	return ch, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Manager holds the running settings: it loads them from the store,
// applies changes through apply and persists them.
type Manager struct {
	kv    KV
	apply func(prev, next Settings) error

	mu  sync.Mutex
	cur Settings
	raw []byte // the persisted document last seen
}

// KV is the part of the store the manager uses.
type KV interface {
	KVGet(ctx context.Context, key string) (json.RawMessage, error)
	KVPut(ctx context.Context, key string, value json.RawMessage) error
}

// NewManager starts from base (the defaults, with the command line's
// values); apply makes a change take effect and is called with the
// settings before and after it.
func NewManager(kv KV, base Settings, apply func(prev, next Settings) error) *Manager {
	return &Manager{kv: kv, apply: apply, cur: base}
}

// Get returns the running settings.
func (m *Manager) Get() Settings {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Load reads the persisted settings, if any, over the running ones
// (server.host and server.port stay the command line's) and applies them.
func (m *Manager) Load(ctx context.Context) error {
	raw, err := m.kv.KVGet(ctx, KVKey)
	if errors.Is(err, domain.ErrNotFound) {
		return m.apply(m.Get(), m.Get())
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.adopt(raw)
}

// adopt applies a persisted document; m.mu is held.
func (m *Manager) adopt(raw []byte) error {
	next := m.cur
	if err := json.Unmarshal(raw, &next); err != nil {
		return fmt.Errorf("settings: stored %s is not valid: %w", KVKey, err)
	}
	next.Server.Host, next.Server.Port = m.cur.Server.Host, m.cur.Server.Port
	if err := m.apply(m.cur, next); err != nil {
		return err
	}
	m.cur, m.raw = next, raw
	return nil
}

// Update validates a partial document, applies it and persists it.
func (m *Manager) Update(ctx context.Context, body []byte) (*Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch, err := Update(m.cur, body)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(ch.Next)
	if err != nil {
		return nil, err
	}
	if err := m.apply(m.cur, ch.Next); err != nil {
		return nil, domain.Errorf(domain.CodeValidation, "%v", err)
	}
	if err := m.kv.KVPut(ctx, KVKey, raw); err != nil {
		_ = m.apply(ch.Next, m.cur) // put back what runs
		return nil, err
	}
	m.cur, m.raw = ch.Next, raw
	return ch, nil
}

// Watch reloads the persisted settings every interval until ctx ends, so
// that a change made through another server sharing the store takes
// effect here too.
func (m *Manager) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		raw, err := m.kv.KVGet(ctx, KVKey)
		if err != nil {
			continue
		}
		m.mu.Lock()
		if !bytes.Equal(raw, m.raw) {
			_ = m.adopt(raw)
		}
		m.mu.Unlock()
	}
}
