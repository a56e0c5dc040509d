package prompts

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// messagePrinter renders the library's messages for the failures
// collectProblems does not phrase itself.
var messagePrinter = message.NewPrinter(language.English)

// Schema is a compiled JSON Schema (draft 2020-12 unless the schema says
// otherwise) for a template's output. It is safe for concurrent use.
type Schema struct {
	compiled *jsonschema.Schema
}

// compileSchema compiles the JSON text of a schema. name only labels the
// schema's URL in errors. The compiler loads nothing: a $ref must point
// inside the schema.
func compileSchema(name string, text []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	c.AssertFormat() // "format: date" on a due date is a promise the assistant relies on
	url := "urn:dealdesk:prompts:" + name
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, err
	}
	return &Schema{compiled: compiled}, nil
}

// Validate checks a decoded JSON value (as returned by ParseJSONOutput
// or encoding/json into any) against the schema. The error is a
// *ValidationError listing every problem with the path of the field.
func (s *Schema) Validate(v any) error {
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &ValidationError{Problems: []Problem{{Path: "/", Message: err.Error()}}}
	}
	var problems []Problem
	collectProblems(ve, &problems)
	slices.SortFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return &ValidationError{Problems: slices.Compact(problems)}
}

// ValidationError says why a model's output does not match its schema.
type ValidationError struct {
	Problems []Problem
}

// Problem is one reason an output failed validation.
type Problem struct {
	// Path is a JSON Pointer to the offending value, such as
	// "/action_items/0/due_date"; "/" is the whole output.
	Path    string `json:"path"`
	Message string `json:"message"`
}

// String renders the problem as "path: message".
func (p Problem) String() string { return p.Path + ": " + p.Message }

// Error lists the problems on one line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("output does not match schema: %s", strings.Join(parts, "; "))
}

// collectProblems flattens the library's error tree into its leaves,
// the concrete failures; the inner nodes only say "validation failed".
func collectProblems(e *jsonschema.ValidationError, out *[]Problem) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectProblems(c, out)
		}
		return
	}
	path := pointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		// Point at the missing field itself, which is what a reader (and a
		// model repairing its answer) looks for.
		for _, name := range k.Missing {
			*out = append(*out, Problem{Path: pointer(append(slices.Clone(e.InstanceLocation), name)), Message: "required field is missing"})
		}
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			*out = append(*out, Problem{Path: pointer(append(slices.Clone(e.InstanceLocation), name)), Message: "field is not allowed by the schema"})
		}
	case *kind.MaxLength:
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("too long: %d characters, at most %d allowed", k.Got, k.Want)})
	case *kind.MinLength:
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("too short: %d characters, at least %d required", k.Got, k.Want)})
	case *kind.MaxItems:
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("too many items: %d, at most %d allowed", k.Got, k.Want)})
	case *kind.MinItems:
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("too few items: %d, at least %d required", k.Got, k.Want)})
	case *kind.Type:
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("wrong type: got %s, want %s", k.Got, strings.Join(k.Want, " or "))})
	default:
		*out = append(*out, Problem{Path: path, Message: e.ErrorKind.LocalizedString(messagePrinter)})
	}
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// pointer encodes a JSON Pointer (RFC 6901).
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(pointerEscaper.Replace(t))
	}
	return b.String()
}
