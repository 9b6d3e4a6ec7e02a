package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
)

// operation documents one route of the native API for /openapi.json.
type operation struct {
	summary  string
	tag      string
	params   []param
	request  any // a value of the body's type, or nil
	response any // a value of data's type; nil for an untyped object
	// raw names a content type answered instead of the JSON envelope.
	raw string
	// partial: the body may hold any subset of the request type's fields.
	partial bool
}

type param struct {
	name, in, typ, desc string
	enum                []string
}

func query(name, typ, desc string, enum ...string) param {
	return param{name: name, in: "query", typ: typ, desc: desc, enum: enum}
}

var periodParam = func(def string) param {
	return query("period", "string", "the period covered (default "+def+")", "1h", "24h", "7d", "30d")
}

// operations is the documentation of every route the API may serve, keyed
// by its "METHOD path" pattern. The OpenAPI test fails when the router
// serves a route missing here, so the document cannot drift.
var operations = map[string]operation{
	"GET /health": {summary: "API health: the server is up and its store answers", tag: "cluster"},
	"GET /ready":  {summary: "Readiness, for load balancers", tag: "cluster"},
	"GET /metrics": {summary: "Prometheus metrics (text exposition format)", tag: "observability",
		raw: "text/plain; version=0.0.4"},
	"GET /openapi.json": {summary: "This document", tag: "observability", raw: "application/json"},

	"GET /api/v1/cluster/status": {summary: "Cluster summary", tag: "cluster", response: api.ClusterStatus{}},
	"GET /api/v1/cluster/health": {summary: "Health checks of the cluster's parts", tag: "cluster", response: api.ClusterHealth{}},
	"GET /api/v1/cluster/metrics": {summary: "Average and peak resource use and task outcomes over a period", tag: "observability",
		params:   []param{periodParam("1h"), query("type", "string", "only this section", "cpu", "memory", "network", "disk", "tasks")},
		response: api.ClusterMetrics{}},
	"GET /api/v1/cluster/config": {summary: "The cluster configuration (alias of /api/v1/config)", tag: "config", response: api.ConfigResponse{}},
	"PUT /api/v1/cluster/config": {summary: "Change the configuration (alias of /api/v1/config)", tag: "config", request: api.Config{}, response: api.ConfigUpdateResponse{}, partial: true},
	"GET /api/v1/config":         {summary: "The cluster configuration", tag: "config", response: api.ConfigResponse{}},
	"PUT /api/v1/config": {summary: "Change part of the configuration; every field is validated, nothing changes on an error", tag: "config",
		request: api.Config{}, response: api.ConfigUpdateResponse{}, partial: true},

	"GET /api/v1/devices": {summary: "List devices", tag: "devices", response: api.DeviceList{},
		params: []param{query("status", "string", "filter by status", "online", "offline", "draining", "all"),
			query("role", "string", "filter by role"), query("sort", "string", "order", "name", "cpu", "memory", "last_seen"),
			query("limit", "integer", "at most this many (default 100)")}},
	"GET /api/v1/devices/{id}":       {summary: "A device, with detailed_info and a 24 h performance_history", tag: "devices", response: api.DeviceDetailResponse{}},
	"DELETE /api/v1/devices/{id}":    {summary: "Remove a device", tag: "devices", response: api.RemoveDeviceResponse{}, params: []param{query("force", "boolean", "remove even with running tasks, cancelling them")}},
	"POST /api/v1/devices/{id}/ping": {summary: "Round trips through the device's control channel", tag: "devices", request: api.PingRequest{}, response: api.PingResponse{}},

	"POST /api/v1/tasks": {summary: "Submit a task", tag: "tasks", request: api.SubmitTaskRequest{}, response: api.SubmitTaskResponse{}},
	"GET /api/v1/tasks": {summary: "List tasks", tag: "tasks", response: api.TaskList{},
		params: []param{query("status", "string", "filter by status", "pending", "running", "completed", "failed", "cancelled", "all"),
			query("device_id", "string", "tasks pinned to, running on or last run on this device"), query("task_type", "string", "filter by type"),
			query("queue", "string", "filter by queue"), query("since", "string", "created at or after (RFC 3339)"),
			query("limit", "integer", "page size (default 50)"), query("offset", "integer", "page start")}},
	"POST /api/v1/tasks/batch":      {summary: "Submit tasks, all or none", tag: "tasks", request: api.SubmitBatchRequest{}, response: api.SubmitBatchResponse{}},
	"GET /api/v1/tasks/{id}":        {summary: "A task in detail", tag: "tasks", response: api.TaskDetail{}},
	"DELETE /api/v1/tasks/{id}":     {summary: "Cancel a pending or running task", tag: "tasks", response: api.CancelTaskResponse{}},
	"POST /api/v1/tasks/{id}/retry": {summary: "Submit a failed or cancelled task again", tag: "tasks", request: api.RetryTaskRequest{}, response: api.RetryTaskResponse{}},
	"GET /api/v1/tasks/{id}/logs":   {summary: "A task's output lines after a cursor", tag: "tasks", response: api.TaskLogs{}, params: []param{query("cursor", "integer", "the last seq already read"), query("limit", "integer", "at most this many lines")}},
	"POST /api/v1/keys":             {summary: "Create an API key", tag: "keys"},
	"GET /api/v1/keys":              {summary: "List API keys", tag: "keys"},
	"GET /api/v1/keys/{id}":         {summary: "An API key", tag: "keys"},
	"DELETE /api/v1/keys/{id}":      {summary: "Revoke an API key", tag: "keys"},
	"POST /api/v1/keys/{id}/rotate": {summary: "Rotate an API key", tag: "keys"},

	"GET /api/v1/logs": {summary: "The cluster's own log: server and worker events and task lifecycle", tag: "observability", response: api.LogList{},
		params: []param{query("level", "string", "this level and above (default info)", "debug", "info", "warning", "error"),
			query("device_id", "string", "one device's entries"), query("component", "string", "one component's entries"),
			query("task_id", "string", "one task's entries"), query("since", "string", "RFC 3339 time, or a duration back from now (1h)"),
			query("limit", "integer", "page size (default 100, at most 1000)"), query("cursor", "integer", "from an earlier answer"),
			query("order", "string", "newest first (desc, default) or oldest first", "asc", "desc")}},
	"GET /api/v1/monitor/stream": {summary: "Server-Sent Events: every event of the cluster as it happens", tag: "observability", raw: "text/event-stream",
		params: []param{query("types", "string", "comma list of groups (devices, tasks, logs, pools, runs, config) or event types"),
			query("device_id", "string", "one device's events"), query("last_event_id", "integer", "resume after this id (as the Last-Event-ID header)"),
			{name: "Last-Event-ID", in: "header", typ: "integer", desc: "resume after this event id"}}},
	"GET /api/v1/stats/tasks": {summary: "Task outcomes over a period, grouped", tag: "observability", response: api.TaskStatsResponse{},
		params: []param{periodParam("24h"), query("group_by", "string", "grouping (default device)", "device", "task_type", "hour")}},
	"GET /api/v1/stats/devices": {summary: "Device utilization, uptime and a performance ranking", tag: "observability", response: api.DeviceStatsResponse{},
		params: []param{periodParam("24h")}},
}

// OpenAPI renders the OpenAPI 3.1 document of the routes served. A served
// route with no entry in operations is an error: document it.
func OpenAPI(version string, routes []string) ([]byte, error) {
	g := &schemaGen{schemas: map[string]any{}}
	paths := map[string]map[string]any{}
	var undocumented []string
	for _, route := range routes {
		op, ok := operations[route]
		if !ok {
			undocumented = append(undocumented, route)
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = g.operation(method, path, op)
	}
	if len(undocumented) > 0 {
		return nil, fmt.Errorf("routes missing from the OpenAPI operations table: %s", strings.Join(undocumented, ", "))
	}
	g.schema(reflect.TypeFor[api.Error]()) // registers the Error component
	g.schemas["ErrorEnvelope"] = map[string]any{
		"type": "object", "required": []string{"status", "error", "timestamp", "request_id"},
		"properties": map[string]any{
			"status": map[string]any{"const": "error"}, "error": map[string]any{"$ref": "#/components/schemas/Error"},
			"timestamp": map[string]any{"type": "string", "format": "date-time"}, "request_id": map[string]any{"type": "string"},
		},
	}
	if version == "" {
		version = "dev"
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Drover native API", "version": version,
			"description": "The REST API of document 001 (Retire-Cluster) and its extensions. Every JSON answer is an envelope: " +
				"{status, data, message, timestamp, request_id}; errors carry {code, message, details}."},
		"servers":  []any{map[string]any{"url": "http://localhost:8081"}},
		"security": []any{map[string]any{}, map[string]any{"apiKey": []string{}}, map[string]any{"bearer": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// schemaGen turns api types into JSON Schemas (OpenAPI 3.1 is JSON Schema
// 2020-12), collecting named structs as components.
type schemaGen struct {
	schemas map[string]any
}

func (g *schemaGen) operation(method, path string, op operation) map[string]any {
	id := strings.ToLower(method)
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		part = strings.Trim(part, "{}")
		part = strings.NewReplacer(".", "_", "-", "_").Replace(part)
		id += "_" + part
	}
	out := map[string]any{"summary": op.summary, "operationId": id, "tags": []string{op.tag}}
	var params []any
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
	}
	for _, p := range op.params {
		s := map[string]any{"type": p.typ}
		if len(p.enum) > 0 {
			s["enum"] = p.enum
		}
		params = append(params, map[string]any{"name": p.name, "in": p.in, "description": p.desc, "schema": s})
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if op.request != nil {
		body := g.schema(reflect.TypeOf(op.request))
		if op.partial {
			body = map[string]any{"description": "any subset of the sections and fields of " + reflect.TypeOf(op.request).Name() +
				"; each field named is validated, and nothing changes if one is invalid", "type": "object",
				"additionalProperties": map[string]any{"type": "object"}}
		}
		out["requestBody"] = map[string]any{"required": !strings.HasSuffix(path, "/ping") && !strings.HasSuffix(path, "/retry"),
			"content": map[string]any{"application/json": map[string]any{"schema": body}}}
	}
	ok := map[string]any{"description": "success"}
	switch {
	case op.raw == "text/event-stream":
		ok["content"] = map[string]any{op.raw: map[string]any{"schema": map[string]any{"type": "string",
			"description": "frames of 'id: <event id>' and 'data: <event JSON>'; ': keep-alive' comments"}}}
	case op.raw != "":
		ok["content"] = map[string]any{op.raw: map[string]any{"schema": map[string]any{"type": "string"}}}
	default:
		data := map[string]any{"type": "object"}
		if op.response != nil {
			data = g.schema(reflect.TypeOf(op.response))
		}
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"type": "object", "required": []string{"status", "data", "timestamp", "request_id"},
			"properties": map[string]any{
				"status": map[string]any{"const": "success"}, "data": data, "message": map[string]any{"type": "string"},
				"timestamp": map[string]any{"type": "string", "format": "date-time"}, "request_id": map[string]any{"type": "string"},
			},
		}}}
	}
	out["responses"] = map[string]any{
		"200": ok,
		"default": map[string]any{"description": "an error, in the envelope",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ErrorEnvelope"}}}},
	}
	return out
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schema is t's JSON Schema; named structs become components referenced by $ref.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.schema(t.Elem())
		return map[string]any{"anyOf": []any{inner, map[string]any{"type": "null"}}}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.object(t)
		}
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = map[string]any{} // placeholder against recursion
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// object is a struct's schema: its JSON fields, embedded structs flattened.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if f.Anonymous && tag == "" {
				walk(f.Type)
				continue
			}
			if !f.IsExported() || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			props[name] = g.schema(f.Type)
			if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
	}
	walk(t)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		out["required"] = required
	}
	return out
}
