package knowledge

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind is what a document is for; retrieval filters on it and each assistant
// task asks for the kinds it needs (a talk track wants won deals and
// competitor files, a tender analysis wants the tender and product sheets).
type Kind string

// The document kinds.
const (
	KindTender     Kind = "tender"
	KindPolicy     Kind = "policy"
	KindWonDeal    Kind = "won_deal"
	KindLostDeal   Kind = "lost_deal"
	KindProduct    Kind = "product"
	KindCompetitor Kind = "competitor"
	KindPlaybook   Kind = "playbook"
	KindMeeting    Kind = "meeting"
	KindEmail      Kind = "email"
)

var kinds = []Kind{
	KindTender, KindPolicy, KindWonDeal, KindLostDeal, KindProduct,
	KindCompetitor, KindPlaybook, KindMeeting, KindEmail,
}

// kindAliases are other spellings people use for kinds, mostly as folder
// names: plurals and the Chinese terms sales teams file things under.
var kindAliases = map[string]Kind{
	"tenders": KindTender, "招标": KindTender, "招标文件": KindTender, "标书": KindTender,
	"policies": KindPolicy, "政策": KindPolicy, "政策文件": KindPolicy,
	"won_deals": KindWonDeal, "won": KindWonDeal, "赢单": KindWonDeal, "中标": KindWonDeal, "中标案例": KindWonDeal,
	"lost_deals": KindLostDeal, "lost": KindLostDeal, "丢单": KindLostDeal, "输单": KindLostDeal,
	"products": KindProduct, "产品": KindProduct, "产品资料": KindProduct,
	"competitors": KindCompetitor, "竞品": KindCompetitor, "竞争对手": KindCompetitor,
	"playbooks": KindPlaybook, "打法": KindPlaybook, "销售手册": KindPlaybook,
	"meetings": KindMeeting, "会议": KindMeeting, "会议纪要": KindMeeting,
	"emails": KindEmail, "邮件": KindEmail,
}

// Kinds returns every valid kind, in a stable order.
func Kinds() []Kind { return slices.Clone(kinds) }

// ParseKind returns the kind named by s. Case, surrounding space and the
// separator ("won-deal", "Won Deal") do not matter; plurals and common
// Chinese names ("中标", "会议纪要") are accepted too.
func ParseKind(s string) (Kind, error) {
	norm := strings.ToLower(strings.TrimSpace(s))
	norm = strings.NewReplacer("-", "_", " ", "_").Replace(norm)
	if k := Kind(norm); k.Valid() {
		return k, nil
	}
	if k, ok := kindAliases[norm]; ok {
		return k, nil
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("%w: unknown kind %q (valid kinds: %s)", ErrInvalidMetadata, s, strings.Join(names, ", "))
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return slices.Contains(kinds, k) }

// IsDeal reports whether documents of kind k describe a closed deal and so
// may carry [Deal] details.
func (k Kind) IsDeal() bool { return k == KindWonDeal || k == KindLostDeal }

// UnmarshalText parses a kind with [ParseKind], so JSON and YAML input is
// checked and normalised as it is read.
func (k *Kind) UnmarshalText(b []byte) error {
	parsed, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}

// UnmarshalYAML parses a kind with [ParseKind]. An empty value leaves the
// kind unset.
func (k *Kind) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%w: line %d: kind must be a string", ErrInvalidMetadata, n.Line)
	}
	if n.Value == "" || n.Tag == "!!null" {
		return nil
	}
	return k.UnmarshalText([]byte(n.Value))
}

// Date is a calendar day with no time of day or zone: the date a tender was
// published, a deal closed or a meeting took place. The zero Date means
// unknown.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

var dateRE = regexp.MustCompile(`^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[T ][0-9:.+\-Z ]*)?$`)

// ParseDate parses a day written as YYYY-MM-DD. It also accepts the other
// ways dates appear in front matter and Chinese documents: 2025/1/6,
// 2025.01.06, 2025年1月6日, and an RFC 3339 timestamp, whose time part is
// dropped.
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	m := dateRE.FindStringSubmatch(s)
	if m == nil {
		return Date{}, fmt.Errorf("%w: bad date %q: want YYYY-MM-DD", ErrInvalidMetadata, s)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d {
		return Date{}, fmt.Errorf("%w: bad date %q: no such day", ErrInvalidMetadata, s)
	}
	return Date{y, time.Month(mo), d}, nil
}

// DateOf returns the day t falls on in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// Time returns midnight UTC at the start of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// String formats d as YYYY-MM-DD, or "" when d is zero.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText formats d as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses d with [ParseDate]; empty text leaves it zero.
func (d *Date) UnmarshalText(b []byte) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		*d = Date{}
		return nil
	}
	parsed, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// MarshalYAML writes d as a YYYY-MM-DD string.
func (d Date) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML parses d with [ParseDate]. It reads the scalar as written,
// so an unquoted 2025-11-12 (a YAML timestamp) and a quoted one both work.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%w: line %d: date must be a string like 2025-01-31", ErrInvalidMetadata, n.Line)
	}
	if n.Tag == "!!null" {
		return nil
	}
	return d.UnmarshalText([]byte(n.Value))
}

// Metadata describes a document: what it is, where and whom it concerns,
// and who may see it. Zero fields are unknown. The same shape is read from
// front matter, sidecar files and API requests; see [MergeMetadata] for how
// those combine.
type Metadata struct {
	Kind  Kind   `json:"kind,omitempty" yaml:"kind,omitempty"`
	Title string `json:"title,omitempty" yaml:"title,omitempty"`
	// Source is the original file name or path relative to the ingest
	// root; citations show it.
	Source   string   `json:"source,omitempty" yaml:"source,omitempty"`
	Region   string   `json:"region,omitempty" yaml:"region,omitempty"`
	Industry string   `json:"industry,omitempty" yaml:"industry,omitempty"`
	Customer string   `json:"customer,omitempty" yaml:"customer,omitempty"`
	Date     Date     `json:"date,omitzero" yaml:"date,omitempty"`
	Tags     []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Language is a BCP 47 tag such as "zh" or "en", or "zh-en" for
	// bilingual documents.
	Language string `json:"language,omitempty" yaml:"language,omitempty"`
	Access   Access `json:"access,omitzero" yaml:"access,omitempty"`
	// Deal holds the facts of a closed deal (kinds won_deal and lost_deal).
	Deal *Deal `json:"deal,omitempty" yaml:"deal,omitempty"`
	// Extra keeps fields this schema does not know, so nothing written in
	// front matter is lost. In YAML, unknown top-level keys land here.
	Extra map[string]any `json:"extra,omitempty" yaml:"extra,omitempty"`
}

// Access restricts who may retrieve a document. Empty lists mean no
// restriction on that axis.
type Access struct {
	Regions []string `json:"regions,omitempty" yaml:"regions,omitempty"`
	Roles   []string `json:"roles,omitempty" yaml:"roles,omitempty"`
}

// IsZero reports whether a places no restriction.
func (a Access) IsZero() bool { return len(a.Regions) == 0 && len(a.Roles) == 0 }

// Deal is what a won or lost deal record says about the deal.
type Deal struct {
	// Amount is the contract (or bid) value in Currency units.
	Amount float64 `json:"amount,omitempty" yaml:"amount,omitempty"`
	// Currency is an ISO 4217 code; CNY when an amount is given without one.
	Currency       string          `json:"currency,omitempty" yaml:"currency,omitempty"`
	Stage          string          `json:"stage,omitempty" yaml:"stage,omitempty"`
	Competitors    []string        `json:"competitors,omitempty" yaml:"competitors,omitempty"`
	DecisionMakers []DecisionMaker `json:"decision_makers,omitempty" yaml:"decision_makers,omitempty"`
	// Reasons are why the deal was won or lost.
	Reasons      []string `json:"reasons,omitempty" yaml:"reasons,omitempty"`
	ProductLines []string `json:"product_lines,omitempty" yaml:"product_lines,omitempty"`
}

// DecisionMaker is a person on the customer side who shaped a decision.
type DecisionMaker struct {
	Role     string   `json:"role,omitempty" yaml:"role,omitempty"`
	Name     string   `json:"name,omitempty" yaml:"name,omitempty"`
	Concerns []string `json:"concerns,omitempty" yaml:"concerns,omitempty"`
}

// Normalize trims surrounding space from every field, drops empty and
// duplicate list entries, and defaults a deal's currency to CNY.
func (m *Metadata) Normalize() {
	for _, s := range []*string{&m.Title, &m.Source, &m.Region, &m.Industry, &m.Customer, &m.Language} {
		*s = strings.TrimSpace(*s)
	}
	m.Tags = cleanList(m.Tags)
	m.Access.Regions = cleanList(m.Access.Regions)
	m.Access.Roles = cleanList(m.Access.Roles)
	if d := m.Deal; d != nil {
		d.Currency = strings.ToUpper(strings.TrimSpace(d.Currency))
		d.Stage = strings.TrimSpace(d.Stage)
		if d.Currency == "" && d.Amount != 0 {
			d.Currency = "CNY"
		}
		d.Competitors = cleanList(d.Competitors)
		d.Reasons = cleanList(d.Reasons)
		d.ProductLines = cleanList(d.ProductLines)
		for i := range d.DecisionMakers {
			dm := &d.DecisionMakers[i]
			dm.Role, dm.Name = strings.TrimSpace(dm.Role), strings.TrimSpace(dm.Name)
			dm.Concerns = cleanList(dm.Concerns)
		}
	}
}

// Validate reports the first problem that would stop m from being stored:
// a missing or unknown kind, a missing title, a negative deal amount. The
// error wraps [ErrInvalidMetadata].
func (m *Metadata) Validate() error {
	if m.Kind == "" {
		_, err := ParseKind("")
		return fmt.Errorf("kind is required (set it in the request, front matter, a sidecar file or the folder name): %w", err)
	}
	if !m.Kind.Valid() {
		_, err := ParseKind(string(m.Kind))
		return err
	}
	if strings.TrimSpace(m.Title) == "" {
		return fmt.Errorf("%w: title is required", ErrInvalidMetadata)
	}
	for _, t := range m.Tags {
		if len(t) > MaxTagBytes {
			return fmt.Errorf("%w: tag %.20q… is %d bytes; at most %d", ErrInvalidMetadata, t, len(t), MaxTagBytes)
		}
	}
	if !m.Date.IsZero() && DateOf(m.Date.Time()) != m.Date {
		return fmt.Errorf("%w: bad date %d-%d-%d: no such day", ErrInvalidMetadata, m.Date.Year, m.Date.Month, m.Date.Day)
	}
	if d := m.Deal; d != nil {
		if d.Amount < 0 || math.IsNaN(d.Amount) || math.IsInf(d.Amount, 0) {
			return fmt.Errorf("%w: deal amount %v: want a positive number", ErrInvalidMetadata, d.Amount)
		}
		if d.Currency != "" && !currencyRE.MatchString(d.Currency) {
			return fmt.Errorf("%w: deal currency %q: want a three-letter code such as CNY", ErrInvalidMetadata, d.Currency)
		}
	}
	return nil
}

// MaxTagBytes bounds one tag: tags are indexed as text search lexemes
// (chunks.tag_lex), which PostgreSQL limits to 2,047 bytes.
const MaxTagBytes = 200

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// cleanList trims entries and drops empty and repeated ones, keeping the
// first occurrence's position. It returns nil for an empty result.
func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
