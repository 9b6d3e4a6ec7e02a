package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/httpapi"
)

// OpenAPI renders the OpenAPI 3.1 document of routes, served at baseURL.
// Every route must have a summary: an undocumented route is an error.
func OpenAPI(version, baseURL string, routes []httpapi.Route) ([]byte, error) {
	g := &schemaGen{schemas: map[string]any{}}
	paths := map[string]map[string]any{}
	ids := map[string]bool{}
	var undocumented []string
	for _, rt := range routes {
		if rt.Summary == "" || rt.Tag == "" {
			undocumented = append(undocumented, rt.Pattern())
			continue
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		op := g.operation(rt)
		id := op["operationId"].(string)
		if ids[id] {
			return nil, fmt.Errorf("operationId %s is used twice; set Route.ID", id)
		}
		ids[id] = true
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	if len(undocumented) > 0 {
		return nil, fmt.Errorf("routes without a summary and tag: %s", strings.Join(undocumented, ", "))
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
		"servers":  []any{map[string]any{"url": baseURL}},
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

// operationID is the route's ID, else its handler's method name
// ("listTasks").
func operationID(rt httpapi.Route) string {
	if rt.ID != "" {
		return rt.ID
	}
	name := runtime.FuncForPC(reflect.ValueOf(rt.Handler).Pointer()).Name()
	name = strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
	return name
}

// schemaGen turns api types into JSON Schemas (OpenAPI 3.1 is JSON Schema
// 2020-12), collecting named structs as components.
type schemaGen struct {
	schemas map[string]any
}

func (g *schemaGen) operation(rt httpapi.Route) map[string]any {
	out := map[string]any{"summary": rt.Summary, "operationId": operationID(rt), "tags": []string{rt.Tag}}
	var params []any
	for _, seg := range strings.Split(rt.Path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
	}
	for _, p := range rt.Params {
		s := map[string]any{"type": p.Type}
		if len(p.Enum) > 0 {
			s["enum"] = p.Enum
		}
		params = append(params, map[string]any{"name": p.Name, "in": p.In, "description": p.Desc, "schema": s})
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if rt.Request != nil {
		body := g.schema(reflect.TypeOf(rt.Request))
		if rt.Partial {
			body = map[string]any{"description": "any subset of the sections and fields of " + reflect.TypeOf(rt.Request).Name() +
				"; each field named is validated, and nothing changes if one is invalid", "type": "object",
				"additionalProperties": map[string]any{"type": "object"}}
		}
		out["requestBody"] = map[string]any{"required": !rt.BodyOptional,
			"content": map[string]any{"application/json": map[string]any{"schema": body}}}
	}
	ok := map[string]any{"description": "success"}
	switch {
	case rt.Raw == "text/event-stream":
		ok["content"] = map[string]any{rt.Raw: map[string]any{"schema": map[string]any{"type": "string",
			"description": "frames of 'id: <event id>' and 'data: <event JSON>'; ': keep-alive' comments"}}}
	case rt.Raw != "":
		ok["content"] = map[string]any{rt.Raw: map[string]any{"schema": map[string]any{"type": "string"}}}
	default:
		data := map[string]any{"type": "object"}
		if rt.Response != nil {
			data = g.schema(reflect.TypeOf(rt.Response))
		}
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"type": "object", "required": []string{"status", "data", "timestamp", "request_id"},
			"properties": map[string]any{
				"status": map[string]any{"const": "success"}, "data": data, "message": map[string]any{"type": "string"},
				"timestamp": map[string]any{"type": "string", "format": "date-time"}, "request_id": map[string]any{"type": "string"},
			},
		}}}
	}
	responses := map[string]any{
		"default": map[string]any{"description": "an error, in the envelope",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ErrorEnvelope"}}}},
	}
	for _, st := range append([]int{rt.SuccessStatus()}, rt.Also...) {
		responses[strconv.Itoa(st)] = ok
	}
	out["responses"] = responses
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

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	doc, err := OpenAPI(s.version, scheme+"://"+r.Host, s.Routes())
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
	return nil
}
