package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/dealdesk/dealdesk/lang"
)

// SidecarSuffix ends the name of a metadata file that sits next to the file
// it describes: "price-list.csv.meta.yaml" describes "price-list.csv". Use
// it for formats that cannot carry front matter.
const SidecarSuffix = ".meta.yaml"

// SidecarName returns the name of the sidecar metadata file for name.
func SidecarName(name string) string { return name + SidecarSuffix }

// IsSidecar reports whether name is a sidecar metadata file, which ingest
// should read alongside its document rather than as a document.
func IsSidecar(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasSuffix(lower, SidecarSuffix) || strings.HasSuffix(lower, ".meta.yml")
}

// maxMetadataBytes bounds a sidecar file; real ones are a few hundred bytes.
const maxMetadataBytes = 1 << 20

// ParseSidecar reads a sidecar metadata file (YAML, same fields as front
// matter).
func ParseSidecar(r io.Reader) (Metadata, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMetadataBytes+1))
	if err != nil {
		return Metadata{}, fmt.Errorf("read sidecar: %w", err)
	}
	if len(b) > maxMetadataBytes {
		return Metadata{}, fmt.Errorf("sidecar: %w: over %d bytes", ErrTooLarge, maxMetadataBytes)
	}
	m, err := parseMetadataYAML(b)
	if err != nil {
		return Metadata{}, fmt.Errorf("sidecar: %w", err)
	}
	return m, nil
}

// parseMetadataYAML decodes metadata YAML; every failure wraps
// ErrInvalidMetadata.
func parseMetadataYAML(b []byte) (Metadata, error) {
	var m Metadata
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		if errors.Is(err, ErrInvalidMetadata) {
			return Metadata{}, err
		}
		return Metadata{}, fmt.Errorf("%w: %v", ErrInvalidMetadata, err)
	}
	return m, nil
}

// metadataKeys are the YAML keys Metadata decodes itself; any other
// top-level key goes to Extra.
var metadataKeys = map[string]bool{
	"kind": true, "title": true, "source": true, "region": true, "industry": true,
	"customer": true, "date": true, "tags": true, "language": true, "access": true,
	"deal": true, "extra": true,
}

// listKeys are fields that hold lists. People often write them as one
// comma-separated string ("tags: 信创, 政务云"); that is accepted too.
var listKeys = map[string]bool{
	"tags": true, "regions": true, "roles": true, "competitors": true,
	"reasons": true, "product_lines": true, "concerns": true,
}

// UnmarshalYAML reads metadata as people write it in front matter: list
// fields may be a comma-separated string, a deal amount may be written
// "320万" or "3,200,000", and unknown keys are kept in Extra.
func (m *Metadata) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: line %d: metadata must be a mapping of fields", ErrInvalidMetadata, n.Line)
	}
	if err := relaxYAML(n); err != nil {
		return err
	}
	type plain Metadata // without this method, so Decode does not recurse
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if metadataKeys[key] {
			continue
		}
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			return err
		}
		if p.Extra == nil {
			p.Extra = map[string]any{}
		}
		p.Extra[key] = v
	}
	*m = Metadata(p)
	return nil
}

var listSepRE = regexp.MustCompile(`\s*[,，、;；]\s*`)

// relaxYAML rewrites the lenient spellings UnmarshalYAML accepts into the
// strict shapes the struct decoder wants.
func relaxYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := relaxYAML(c); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i].Value, n.Content[i+1]
			switch {
			case listKeys[key] && val.Kind == yaml.ScalarNode && val.Tag != "!!null":
				seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: val.Line, Column: val.Column}
				for _, item := range listSepRE.Split(strings.TrimSpace(val.Value), -1) {
					if item != "" {
						seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: item, Line: val.Line})
					}
				}
				n.Content[i+1] = seq
			case key == "amount" && val.Kind == yaml.ScalarNode && val.Tag == "!!str":
				amount, ok := parseAmount(val.Value)
				if !ok {
					return fmt.Errorf("%w: line %d: bad deal amount %q: want a number such as 3200000 or 320万", ErrInvalidMetadata, val.Line, val.Value)
				}
				val.Tag, val.Value = "!!float", strconv.FormatFloat(amount, 'f', -1, 64)
			default:
				if err := relaxYAML(val); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// parseAmount reads a money amount as written in Chinese business text:
// "3,200,000", "¥3200000元", "320万", "1.2亿".
func parseAmount(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimLeft(s, "¥￥$")
	s = strings.TrimSuffix(s, "元")
	s = strings.TrimSuffix(strings.TrimSpace(s), "人民币")
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "万"):
		mult, s = 1e4, strings.TrimSuffix(s, "万")
	case strings.HasSuffix(s, "亿"):
		mult, s = 1e8, strings.TrimSuffix(s, "亿")
	}
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return v * mult, true
}

// splitFrontMatter separates a leading YAML front matter block ("---" line,
// YAML, "---" or "..." line) from the document body. src must already use
// "\n" line ends. Without a closing line there is no front matter: a
// Markdown file may well start with a thematic break.
func splitFrontMatter(src string) (fm, body string, ok bool) {
	first, rest, found := strings.Cut(src, "\n")
	if !found || strings.TrimRight(first, " \t") != "---" {
		return "", src, false
	}
	for off := 0; off < len(rest); {
		line, _, _ := strings.Cut(rest[off:], "\n")
		if l := strings.TrimRight(line, " \t"); l == "---" || l == "..." {
			end := off + len(line)
			if end < len(rest) {
				end++
			}
			return rest[:off], rest[end:], true
		}
		off += len(line) + 1
	}
	return "", src, false
}

// MergeMetadata combines metadata from several sources. Layers come in
// precedence order, highest first: for each field the first layer that sets
// it wins. Ingest passes request overrides, then front matter, then the
// sidecar file, then what [InferMetadata] found. Lists are taken whole from
// the winning layer, not unioned; deal fields merge one by one, and Extra
// merges key by key. A layer cannot clear a field set by a lower one.
func MergeMetadata(layers ...Metadata) Metadata {
	var out Metadata
	for i := len(layers) - 1; i >= 0; i-- {
		out.overlay(layers[i])
	}
	return out
}

func (m *Metadata) overlay(o Metadata) {
	set(&m.Kind, o.Kind)
	set(&m.Title, o.Title)
	set(&m.Source, o.Source)
	set(&m.Region, o.Region)
	set(&m.Industry, o.Industry)
	set(&m.Customer, o.Customer)
	set(&m.Date, o.Date)
	set(&m.Language, o.Language)
	setList(&m.Tags, o.Tags)
	setList(&m.Access.Regions, o.Access.Regions)
	setList(&m.Access.Roles, o.Access.Roles)
	if d := o.Deal; d != nil {
		if m.Deal == nil {
			m.Deal = &Deal{}
		}
		set(&m.Deal.Amount, d.Amount)
		set(&m.Deal.Currency, d.Currency)
		set(&m.Deal.Stage, d.Stage)
		setList(&m.Deal.Competitors, d.Competitors)
		setList(&m.Deal.Reasons, d.Reasons)
		setList(&m.Deal.ProductLines, d.ProductLines)
		if len(d.DecisionMakers) > 0 {
			m.Deal.DecisionMakers = make([]DecisionMaker, len(d.DecisionMakers))
			for i, dm := range d.DecisionMakers {
				dm.Concerns = slices.Clone(dm.Concerns)
				m.Deal.DecisionMakers[i] = dm
			}
		}
	}
	if len(o.Extra) > 0 {
		if m.Extra == nil {
			m.Extra = make(map[string]any, len(o.Extra))
		}
		maps.Copy(m.Extra, o.Extra)
	}
}

func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

func setList(dst *[]string, v []string) {
	if len(v) > 0 {
		*dst = slices.Clone(v)
	}
}

// InferMetadata returns what can be guessed about a document from its name
// and content, the lowest-precedence layer for [MergeMetadata]: the source
// (name itself), the kind when a parent folder is named after one
// ("deals/won_deal/x.md", "中标/x.pdf"), the title (the file's own title
// property, else its first heading, else the file name) and the language.
// p may be nil.
func InferMetadata(name string, p *Parsed) Metadata {
	name = strings.ReplaceAll(name, `\`, "/")
	m := Metadata{Source: name}
	for dir := path.Dir(name); dir != "." && dir != "/" && dir != ""; dir = path.Dir(dir) {
		if k, err := ParseKind(path.Base(dir)); err == nil {
			m.Kind = k
			break
		}
	}
	if p != nil {
		m.Title = cleanPropertyTitle(p.Title)
		if m.Title == "" {
			for _, b := range p.Blocks {
				if b.Type == BlockHeading {
					m.Title = b.Text
					break
				}
			}
		}
		m.Language = detectLanguage(p.Blocks)
	}
	if m.Title == "" {
		base := path.Base(name)
		m.Title = strings.TrimSpace(strings.TrimSuffix(base, path.Ext(base)))
	}
	return m
}

// junkTitleRE matches titles that office tools put in document properties
// by default and that say nothing about the document.
var junkTitleRE = regexp.MustCompile(`(?i)^(untitled|document\d*|文档\d*|无标题.*|新建.*文档.*|slide \d+|powerpoint.*|幻灯片 ?\d*|microsoft word.*)$`)

func cleanPropertyTitle(t string) string {
	t = strings.TrimSpace(t)
	t = strings.TrimPrefix(t, "Microsoft Word - ")
	for _, ext := range []string{".docx", ".doc", ".pdf", ".wps"} {
		if len(t) > len(ext) && strings.EqualFold(t[len(t)-len(ext):], ext) {
			t = t[:len(t)-len(ext)]
		}
	}
	if junkTitleRE.MatchString(t) {
		return ""
	}
	return t
}

// detectLanguage tells Chinese from English by the share of Han characters
// among the letters of the first blocks; documents with both in quantity
// are "zh-en", the demo corpus's convention.
func detectLanguage(blocks []Block) string {
	var cjk, latin int
	for _, b := range blocks {
		for _, r := range b.Text {
			switch {
			case lang.IsCJK(r):
				cjk++
			case r < unicode.MaxLatin1 && unicode.IsLetter(r):
				latin++
			}
		}
		if cjk+latin > 20000 {
			break
		}
	}
	// A Chinese character carries about as much as an English word, so
	// compare characters with letters divided by a typical word length.
	words := latin / 5
	switch {
	case cjk+words == 0:
		return ""
	case words > 0 && cjk > 0 && min(cjk, words)*3 >= max(cjk, words):
		return "zh-en"
	case cjk > words:
		return "zh"
	default:
		return "en"
	}
}

// ResolveMetadata computes a document's final metadata: request overrides,
// then the file's front matter (p.Meta), then its sidecar (nil when there is
// none), then what [InferMetadata] finds. The result is normalised and
// validated; a missing kind is an error wrapping [ErrInvalidMetadata].
func ResolveMetadata(name string, p *Parsed, override Metadata, sidecar *Metadata) (Metadata, error) {
	layers := []Metadata{override}
	if p != nil {
		layers = append(layers, p.Meta)
	}
	if sidecar != nil {
		layers = append(layers, *sidecar)
	}
	layers = append(layers, InferMetadata(name, p))
	m := MergeMetadata(layers...)
	m.Normalize()
	if err := m.Validate(); err != nil {
		return m, fmt.Errorf("metadata for %s: %w", name, err)
	}
	return m, nil
}
