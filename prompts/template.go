package prompts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/dealdesk/dealdesk/providers"
)

// Template is one version of a prompt: model parameters, the output
// schema and a text/template with a "system" and a "user" section.
// Templates are immutable once loaded and safe for concurrent use.
type Template struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Task    string `json:"task"`
	// Language is "zh", "en" or "auto" (answer in the input's Language).
	Language    string  `json:"language"`
	Description string  `json:"description"`
	Temperature float64 `json:"temperature"`
	MaxTokens   int     `json:"max_tokens"`
	// Draft versions are never what Latest (or a policy's Version 0)
	// returns: they are pinned or split in explicitly while on trial.
	Draft bool `json:"draft,omitempty"`
	// File is the template's file name; Digest is a hash of its bytes, so
	// a record of "email_draft@v1" can also say which text that was.
	File   string `json:"file"`
	Digest string `json:"digest"`
	// Schema validates the model's JSON output; RawSchema is the same
	// schema as decoded JSON, for display. Treat it as read-only.
	Schema    *Schema        `json:"-"`
	RawSchema map[string]any `json:"output_schema"`

	tmpl       *template.Template
	schemaText string // laid-out JSON, keys in the order the file gives them
}

// ID names the template as generation records and logs do:
// "email_draft@v1".
func (t *Template) ID() string { return fmt.Sprintf("%s@v%d", t.Name, t.Version) }

// Render executes the template's two sections with data, which must be
// the input type of the template's task (EmailDraftInput for
// email_draft, ...), as a value or a pointer. Both sections come back
// trimmed, with runs of blank lines squeezed to one (in the fenced data
// too; compare spans with whitespace normalised).
func (t *Template) Render(data any) (system, user string, err error) {
	if t.tmpl == nil {
		return "", "", fmt.Errorf("render %s: the template was not loaded by Load or LoadFS", t.ID())
	}
	want := tasks[t.Task].input
	v := reflect.ValueOf(data)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() || v.Type() != want {
		return "", "", fmt.Errorf("render %s: input is %T, want prompts.%s", t.ID(), data, want.Name())
	}
	if system, err = t.execute("system", data); err != nil {
		return "", "", err
	}
	if user, err = t.execute("user", data); err != nil {
		return "", "", err
	}
	return system, user, nil
}

func (t *Template) execute(section string, data any) (string, error) {
	var b strings.Builder
	if err := t.tmpl.ExecuteTemplate(&b, section, data); err != nil {
		return "", fmt.Errorf("render %s %s: %w", t.ID(), section, err)
	}
	return tidy(b.String()), nil
}

// tidy trims a rendered section and squeezes the blank lines that
// template actions leave behind, so templates can stay readable.
// Two or more blank lines (spaces and tabs count as blank) become one.
// A rendered prompt is a few thousand tokens of sources, so this is a
// single pass rather than a regular expression, which took 0.1-0.2 ms.
func tidy(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\n' {
			b.WriteByte(s[i])
			continue
		}
		// The run of newlines, spaces and tabs from here; last is its last
		// newline.
		newlines, last, j := 0, i, i
		for ; j < len(s) && (s[j] == '\n' || s[j] == ' ' || s[j] == '\t'); j++ {
			if s[j] == '\n' {
				newlines, last = newlines+1, j
			}
		}
		if newlines >= 3 {
			b.WriteString("\n\n")
		} else {
			b.WriteString(s[i : last+1])
		}
		i = last
	}
	return strings.TrimSpace(b.String())
}

// frontMatter is the YAML header of a template file.
type frontMatter struct {
	Name         string    `yaml:"name"`
	Version      int       `yaml:"version"`
	Task         string    `yaml:"task"`
	Language     string    `yaml:"language"`
	Description  string    `yaml:"description"`
	Temperature  *float64  `yaml:"temperature"`
	MaxTokens    int       `yaml:"max_tokens"`
	Draft        bool      `yaml:"draft"`
	OutputSchema yaml.Node `yaml:"output_schema"`
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// parseTemplate reads one template file. Errors say what is wrong
// without the file name, which the caller adds.
func parseTemplate(file string, content []byte) (*Template, error) {
	text := strings.ReplaceAll(string(content), "\r\n", "\n")
	header, body, lines, err := splitFrontMatter(text)
	if err != nil {
		return nil, err
	}
	var fm frontMatter
	// The leading newline makes YAML's line numbers the file's.
	dec := yaml.NewDecoder(strings.NewReader("\n" + header))
	dec.KnownFields(true) // a misspelt key (max_token) must not pass silently
	if err := dec.Decode(&fm); err != nil {
		return nil, fmt.Errorf("front matter: %w", err)
	}
	t := &Template{
		Name: fm.Name, Version: fm.Version, Task: fm.Task, Language: fm.Language, Description: fm.Description,
		MaxTokens: fm.MaxTokens, Draft: fm.Draft, File: file,
	}
	if err := fm.check(); err != nil {
		return nil, err
	}
	t.Temperature = *fm.Temperature
	sum := sha256.Sum256(content)
	t.Digest = hex.EncodeToString(sum[:6])

	schema, err := toJSONValue(&fm.OutputSchema, 0)
	if err != nil {
		return nil, fmt.Errorf("output_schema: %w", err)
	}
	schemaJSON := []byte(schema.flat())
	if err := json.Unmarshal(schemaJSON, &t.RawSchema); err != nil || t.RawSchema["type"] != "object" {
		return nil, errors.New(`output_schema: must be a JSON Schema object with "type: object" (the model answers with one JSON object)`)
	}
	if t.Schema, err = compileSchema(t.ID(), schemaJSON); err != nil {
		return nil, fmt.Errorf("output_schema does not compile: %w", err)
	}
	t.schemaText = schema.pretty("")

	// Blank lines in place of the front matter keep the line numbers of
	// template errors equal to the file's.
	src := strings.Repeat("\n", lines) + body
	t.tmpl, err = template.New(file).Option("missingkey=error").Funcs(t.funcs()).Parse(src)
	if err != nil {
		return nil, err
	}
	for _, section := range []string{"system", "user"} {
		if t.tmpl.Lookup(section) == nil {
			return nil, fmt.Errorf(`missing section: the body must define {{define %q}}...{{end}}`, section)
		}
	}
	if t.tmpl.Tree != nil {
		for _, n := range t.tmpl.Tree.Root.Nodes {
			pos := int(n.Position())
			if tn, ok := n.(*parse.TextNode); ok {
				trimmed := bytes.TrimLeft(tn.Text, " \t\r\n")
				if len(trimmed) == 0 {
					continue
				}
				pos += len(tn.Text) - len(trimmed)
			}
			return nil, fmt.Errorf("%s:%d: text outside the {{define}} sections would be ignored", file, 1+strings.Count(src[:min(pos, len(src))], "\n"))
		}
	}
	return t, nil
}

// splitFrontMatter splits "---\n<yaml>\n---\n<body>" and returns how many
// lines precede the body.
func splitFrontMatter(text string) (header, body string, lines int, err error) {
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return "", "", 0, errors.New(`the file must start with a "---" line opening the YAML front matter`)
	}
	end := strings.Index(rest, "\n---\n")
	if end < 0 {
		if !strings.HasSuffix(rest, "\n---") {
			return "", "", 0, errors.New(`the front matter is not closed by a "---" line`)
		}
		end = len(rest) - len("\n---")
	}
	header = rest[:end+1]
	body = strings.TrimPrefix(rest[end+1:], "---")
	body = strings.TrimPrefix(body, "\n")
	return header, body, strings.Count(text[:len(text)-len(body)], "\n"), nil
}

// check validates the front matter fields.
func (fm *frontMatter) check() error {
	var errs []error
	if !namePattern.MatchString(fm.Name) {
		errs = append(errs, fmt.Errorf("name %q: want lower-case letters, digits and underscores", fm.Name))
	}
	if fm.Version < 1 {
		errs = append(errs, fmt.Errorf("version %d: want a whole number from 1", fm.Version))
	}
	if _, ok := tasks[fm.Task]; !ok {
		errs = append(errs, fmt.Errorf("task %q is not one this package knows (%s)", fm.Task, taskNames()))
	}
	switch fm.Language {
	case "zh", "en", "auto":
	default:
		errs = append(errs, fmt.Errorf("language %q: want zh, en or auto", fm.Language))
	}
	if strings.TrimSpace(fm.Description) == "" {
		errs = append(errs, errors.New("description is empty"))
	}
	if fm.Temperature == nil {
		errs = append(errs, errors.New("temperature is missing"))
	} else if t := *fm.Temperature; math.IsNaN(t) || t < 0 || t > 2 {
		errs = append(errs, fmt.Errorf("temperature %v: want 0 to 2", t))
	}
	if fm.MaxTokens < 1 {
		errs = append(errs, fmt.Errorf("max_tokens %d: want a positive number", fm.MaxTokens))
	}
	if fm.OutputSchema.Kind == 0 {
		errs = append(errs, errors.New("output_schema is missing"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("front matter: %w", errors.Join(errs...))
	}
	return nil
}

// funcs are the functions template bodies may call.
func (t *Template) funcs() template.FuncMap {
	return template.FuncMap{
		// sources fences retrieved passages as <source> data blocks.
		"sources": providers.FormatSources,
		// fence fences one document (a transcript, a tender) the same way.
		"fence": func(id, title, kind, text string) string {
			return providers.FormatSources([]providers.Source{{ID: id, Title: title, Kind: kind, Text: text}})
		},
		// schema is the output schema as JSON laid out for reading.
		"schema": func() string { return t.schemaText },
		// lang resolves the answer language: "zh", "en" or "auto".
		"lang": func(requested string) (string, error) {
			switch requested {
			case "", "zh", "en":
			default:
				return "", fmt.Errorf("language %q: want zh, en or empty", requested)
			}
			if t.Language != "auto" {
				return t.Language, nil
			}
			if requested == "" {
				return "auto", nil
			}
			return requested, nil
		},
		"join": strings.Join,
	}
}

// jsonValue is a JSON value that keeps the order of object keys: the
// schema is shown to the model as written, and models tend to answer in
// the order they are shown.
type jsonValue struct {
	scalar string // encoded JSON for strings, numbers, booleans and null
	object bool
	array  bool
	keys   []string // object keys, in order
	elems  []jsonValue
}

// toJSONValue converts a YAML node to a JSON value.
func toJSONValue(n *yaml.Node, depth int) (jsonValue, error) {
	if depth > 64 {
		return jsonValue{}, errors.New("nested too deeply")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return jsonValue{}, errors.New("empty document")
		}
		return toJSONValue(n.Content[0], depth+1)
	case yaml.AliasNode:
		return toJSONValue(n.Alias, depth+1)
	case yaml.SequenceNode, yaml.MappingNode:
		v := jsonValue{object: n.Kind == yaml.MappingNode, array: n.Kind == yaml.SequenceNode}
		for i, c := range n.Content {
			if v.object && i%2 == 0 {
				if c.Kind != yaml.ScalarNode || c.ShortTag() == "!!merge" {
					return jsonValue{}, fmt.Errorf("line %d: keys must be plain strings", c.Line)
				}
				v.keys = append(v.keys, c.Value)
				continue
			}
			elem, err := toJSONValue(c, depth+1)
			if err != nil {
				return jsonValue{}, err
			}
			v.elems = append(v.elems, elem)
		}
		return v, nil
	case yaml.ScalarNode:
		s, err := scalarJSON(n)
		return jsonValue{scalar: s}, err
	}
	return jsonValue{}, fmt.Errorf("line %d: unsupported YAML", n.Line)
}

func scalarJSON(n *yaml.Node) (string, error) {
	switch n.ShortTag() {
	case "!!null":
		return "null", nil
	case "!!bool":
		var v bool
		err := n.Decode(&v)
		return strconv.FormatBool(v), err
	case "!!int", "!!float":
		var v float64
		if err := n.Decode(&v); err != nil {
			return "", err
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return "", fmt.Errorf("line %d: %s is not a JSON number", n.Line, n.Value)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case "!!str":
		return jsonString(n.Value), nil
	}
	return "", fmt.Errorf("line %d: unsupported YAML value %s", n.Line, n.ShortTag())
}

// flat encodes v on one line.
func (v jsonValue) flat() string {
	if !v.object && !v.array {
		return v.scalar
	}
	var b strings.Builder
	b.WriteString(v.open())
	for i, e := range v.elems {
		if i > 0 {
			b.WriteString(", ")
		}
		if v.object {
			b.WriteString(jsonString(v.keys[i]) + ": ")
		}
		b.WriteString(e.flat())
	}
	b.WriteString(v.close())
	return b.String()
}

// schemaWidth is the widest line pretty keeps a value on.
const schemaWidth = 100

// pretty encodes v for reading: scalars, lists of scalars and values
// whose one-line form fits in schemaWidth columns stay on one line,
// larger ones are indented.
func (v jsonValue) pretty(indent string) string {
	if line := v.flat(); len(indent)+utf8.RuneCountInString(line) <= schemaWidth || !v.object && v.scalars() {
		return line
	}
	var b strings.Builder
	b.WriteString(v.open() + "\n")
	for i, e := range v.elems {
		b.WriteString(indent + "  ")
		if v.object {
			b.WriteString(jsonString(v.keys[i]) + ": ")
		}
		b.WriteString(e.pretty(indent + "  "))
		if i < len(v.elems)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(indent + v.close())
	return b.String()
}

// scalars reports whether v is a scalar or an array of scalars, which
// read best on one line however long.
func (v jsonValue) scalars() bool {
	for _, e := range v.elems {
		if e.object || e.array {
			return false
		}
	}
	return !v.object
}

func (v jsonValue) open() string {
	if v.object {
		return "{"
	}
	return "["
}

func (v jsonValue) close() string {
	if v.object {
		return "}"
	}
	return "]"
}

// jsonString quotes s as JSON without escaping <, > and &, which would
// only make the schema harder for a model to read.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
