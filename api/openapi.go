package api

import (
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// openAPIPath turns an Echo path (/v1/keys/:id) into an OpenAPI one
// (/v1/keys/{id}) and lists its parameters.
func openAPIPath(p string) (string, []string) {
	var params []string
	// An escaped colon (/v1/opportunities/score\:batch) is literal.
	const literalColon = "\x00"
	p = strings.ReplaceAll(p, `\:`, literalColon)
	out := echoParam.ReplaceAllStringFunc(p, func(m string) string {
		params = append(params, m[1:])
		return "{" + m[1:] + "}"
	})
	return strings.ReplaceAll(out, literalColon, ":"), params
}

var echoParam = regexp.MustCompile(`:[A-Za-z_]+`)

// openAPI builds the OpenAPI 3.1 document from the route table.
func (s *Server) openAPI() map[string]any {
	schemas := map[string]any{}
	reflector := &schemaReflector{defs: schemas}
	problemRef := reflector.ref(reflect.TypeFor[Problem]())
	problemResp := map[string]any{
		"description": "Problem details (RFC 9457)",
		"content":     map[string]any{"application/problem+json": map[string]any{"schema": problemRef}},
	}
	paths := map[string]any{}
	for _, r := range s.routes {
		path, params := openAPIPath(r.path)
		op := map[string]any{
			"summary":     r.summary,
			"operationId": r.operationID(),
			"tags":        []string{r.tag},
		}
		if r.description != "" {
			op["description"] = r.description
		}
		var ps []any
		for _, p := range params {
			ps = append(ps, map[string]any{"name": p, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.query {
			ps = append(ps, map[string]any{"name": q.name, "in": "query", "description": q.description, "schema": map[string]any{"type": q.typ}})
		}
		if len(ps) > 0 {
			op["parameters"] = ps
		}
		if r.request != nil {
			content := map[string]any{"application/json": map[string]any{"schema": reflector.ref(reflect.TypeOf(r.request))}}
			if r.upload {
				content["multipart/form-data"] = map[string]any{"schema": uploadSchema}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		okResp := map[string]any{"description": r.summary}
		if r.response != nil {
			ct := r.contentType
			if ct == "" {
				ct = "application/json"
			}
			okResp["content"] = map[string]any{ct: map[string]any{"schema": reflector.ref(reflect.TypeOf(r.response))}}
		}
		responses := map[string]any{itoa(r.status()): okResp, "default": problemResp}
		if r.accepted != nil {
			responses["202"] = map[string]any{
				"description": "Accepted: queued as a job",
				"content":     map[string]any{"application/json": map[string]any{"schema": reflector.ref(reflect.TypeOf(r.accepted))}},
			}
		}
		if !r.public {
			responses["401"] = problemResp
			responses["429"] = problemResp
			op["security"] = []any{map[string]any{"apiKey": []string{}}}
			if len(r.roles) > 0 {
				responses["403"] = problemResp
				op["x-roles"] = r.roles
			}
		}
		op["responses"] = responses
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "DealDesk API",
			"version":     s.cfg.Version,
			"description": "AI sales assistant grounded in your private knowledge base. Errors are application/problem+json with a stable `code`.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"apiKey": map[string]any{"type": "http", "scheme": "bearer", "description": "API key created with `dealdesk keys create` or POST /v1/keys"},
			},
		},
	}
}

// uploadSchema describes a multipart document upload.
var uploadSchema = map[string]any{
	"type":     "object",
	"required": []string{"file"},
	"properties": map[string]any{
		"file":     map[string]any{"type": "string", "format": "binary"},
		"kind":     map[string]any{"type": "string"},
		"title":    map[string]any{"type": "string"},
		"region":   map[string]any{"type": "string"},
		"tags":     map[string]any{"type": "string", "description": "comma-separated"},
		"source":   map[string]any{"type": "string", "description": "identity for re-ingest; default: the file name"},
		"metadata": map[string]any{"type": "string", "description": "JSON object with any other metadata"},
	},
}

// schemaReflector derives JSON Schemas from Go types via their json tags, so
// the document describes exactly what the handlers encode.
type schemaReflector struct {
	defs map[string]any
}

var (
	timeType = reflect.TypeFor[time.Time]()
	uuidType = reflect.TypeFor[uuid.UUID]()
)

func (r *schemaReflector) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType || t.Name() == "" {
		return r.schema(t)
	}
	name := t.Name()
	if _, ok := r.defs[name]; !ok {
		r.defs[name] = map[string]any{} // break recursion
		r.defs[name] = r.schema(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (r *schemaReflector) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == uuidType:
		return map[string]any{"type": "string", "format": "uuid"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return r.ref(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": r.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": r.ref(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		r.fields(t, props, &required)
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

func (r *schemaReflector) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				r.fields(ft, props, required)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		s := r.ref(f.Type)
		if doc := f.Tag.Get("doc"); doc != "" {
			s = map[string]any{"allOf": []any{s}, "description": doc}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}
