package assistant

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/dealdesk/dealdesk/assistant/trust"
)

// mapStrings returns v (a decoded JSON value) with f applied to every
// string in it, keys aside. It never modifies v.
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = mapStrings(e, f)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapStrings(e, f)
		}
		return out
	default:
		return v
	}
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// maskInput returns a copy of in (a task input struct) with every string
// in it masked by m.
func maskInput(m *trust.Masker, in any) (any, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	masked, err := json.Marshal(mapStrings(generic, m.Mask))
	if err != nil {
		return nil, err
	}
	out := reflect.New(reflect.TypeOf(in))
	if err := json.Unmarshal(masked, out.Interface()); err != nil {
		return nil, err
	}
	return out.Elem().Interface(), nil
}

// marshal is json.Marshal without HTML escaping, so Chinese punctuation
// and "<" read as written in stored records and streams.
func marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}
