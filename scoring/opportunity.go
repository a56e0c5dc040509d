package scoring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Outcomes of an opportunity.
const (
	OutcomeOpen = "open"
	OutcomeWon  = "won"
	OutcomeLost = "lost"
)

// Stages are the pipeline stages an opportunity can be in, in order. Won
// and lost end the pipeline. CRM spellings map onto them (see ParseStage).
var Stages = []string{"lead", "prospecting", "qualification", "engaging", "proposal", "negotiation", "won", "lost"}

var stageAliases = map[string]string{
	"new": "lead", "inbound": "lead",
	"prospect": "prospecting",
	"qualify":  "qualification", "qualified": "qualification", "discovery": "qualification",
	"engage": "engaging", "engaged": "engaging", "evaluation": "engaging", "demo": "engaging", "solution": "engaging",
	"quote": "proposal", "quotation": "proposal", "tender": "proposal", "bid": "proposal",
	"negotiate": "negotiation", "contract": "negotiation", "commit": "negotiation",
	"closed_won": "won", "closedwon": "won", "win": "won",
	"closed_lost": "lost", "closedlost": "lost", "loss": "lost",
}

// ParseStage returns the canonical stage of a CRM stage name.
func ParseStage(s string) (string, error) {
	k := strings.ToLower(strings.TrimSpace(s))
	k = strings.NewReplacer(" ", "_", "-", "_").Replace(k)
	if slices.Contains(Stages, k) {
		return k, nil
	}
	if c, ok := stageAliases[k]; ok {
		return c, nil
	}
	return "", fmt.Errorf("unknown stage %q: want one of %s", s, strings.Join(Stages, ", "))
}

// Opportunity is one CRM opportunity. Pointers are fields the CRM may not
// report; nil is unknown, not zero.
type Opportunity struct {
	ID           uuid.UUID `json:"id,omitzero" doc:"assigned by DealDesk"`
	ExternalID   string    `json:"external_id" doc:"the CRM's id; upserts match on it"`
	Name         string    `json:"name,omitempty"`
	Customer     string    `json:"customer,omitempty"`
	Stage        string    `json:"stage" doc:"lead, prospecting, qualification, engaging, proposal, negotiation, won or lost (common CRM spellings are mapped)"`
	Amount       *float64  `json:"amount,omitempty"`
	Currency     string    `json:"currency,omitempty"`
	Region       string    `json:"region,omitempty"`
	Industry     string    `json:"industry,omitempty"`
	CustomerSize string    `json:"customer_size,omitempty" doc:"a size class such as smb, mid, enterprise"`
	ProductLine  string    `json:"product_line,omitempty"`
	Competitors  []string  `json:"competitors,omitempty"`
	Source       string    `json:"source,omitempty" doc:"lead source"`
	Owner        string    `json:"owner,omitempty" doc:"the sales rep who owns it"`
	DaysInStage  *int      `json:"days_in_stage,omitempty"`
	Emails       *int      `json:"emails,omitempty" doc:"activity count"`
	Calls        *int      `json:"calls,omitempty" doc:"activity count"`
	Meetings     *int      `json:"meetings,omitempty" doc:"activity count"`
	// LastActivityAt is the last logged touchpoint.
	LastActivityAt *time.Time `json:"last_activity_at,omitempty"`
	// Outcome is open, won or lost; a won or lost stage implies it. A
	// closed opportunity may keep the last open stage it reached.
	Outcome   string `json:"outcome,omitempty" doc:"open (default), won or lost"`
	OpenDate  string `json:"open_date,omitempty" doc:"YYYY-MM-DD, when the deal was opened or engaged"`
	CloseDate string `json:"close_date,omitempty" doc:"YYYY-MM-DD, when it was won or lost (history only; never a feature)"`
	// Fields are the CRM's other fields: numbers and strings, usable as
	// features.
	Fields    map[string]any `json:"fields,omitempty"`
	CreatedAt time.Time      `json:"created_at,omitzero"`
	UpdatedAt time.Time      `json:"updated_at,omitzero"`
}

// ErrInvalid marks input the caller must fix; FieldError says where.
var ErrInvalid = errors.New("invalid opportunity")

// ErrNotFound means no such opportunity (or model) in the caller's scope.
var ErrNotFound = errors.New("not found")

// FieldError is an invalid field of an opportunity.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// maxFields bounds the free fields of one opportunity.
const maxFields = 200

// Normalize validates o and puts it in canonical form: trimmed strings,
// canonical stage and outcome, lower-case region, deduplicated competitors.
// With requireID the external id must be set (stored opportunities); an
// inline opportunity scored without storing may omit it.
func (o *Opportunity) Normalize(requireID bool) error {
	for _, s := range []*string{&o.ExternalID, &o.Name, &o.Customer, &o.Stage, &o.Currency, &o.Region, &o.Industry,
		&o.CustomerSize, &o.ProductLine, &o.Source, &o.Owner, &o.Outcome, &o.OpenDate, &o.CloseDate} {
		*s = strings.TrimSpace(*s)
	}
	if requireID && o.ExternalID == "" {
		return invalid("external_id", "is required")
	}
	if len(o.ExternalID) > 200 {
		return invalid("external_id", "is longer than 200 characters")
	}
	o.Region = strings.ToLower(o.Region)
	o.Currency = strings.ToUpper(o.Currency)
	o.Outcome = strings.ToLower(o.Outcome)
	switch o.Outcome {
	case "", OutcomeOpen, OutcomeWon, OutcomeLost:
	case "converted", "1", "true", "yes":
		o.Outcome = OutcomeWon
	case "0", "false", "no":
		o.Outcome = OutcomeLost
	default:
		return invalid("outcome", "unknown outcome %q: want open, won or lost", o.Outcome)
	}
	if o.Stage == "" {
		if o.Outcome == OutcomeWon || o.Outcome == OutcomeLost {
			o.Stage = o.Outcome
		} else {
			return invalid("stage", "is required (one of %s)", strings.Join(Stages, ", "))
		}
	}
	st, err := ParseStage(o.Stage)
	if err != nil {
		return invalid("stage", "%v", err)
	}
	o.Stage = st
	if (st == OutcomeWon || st == OutcomeLost) && o.Outcome != "" && o.Outcome != OutcomeOpen && o.Outcome != st {
		return invalid("outcome", "outcome %q contradicts stage %q", o.Outcome, st)
	}
	if st == OutcomeWon || st == OutcomeLost {
		o.Outcome = st
	}
	if o.Outcome == "" {
		o.Outcome = OutcomeOpen
	}
	if o.Amount != nil && (math.IsNaN(*o.Amount) || math.IsInf(*o.Amount, 0) || *o.Amount < 0) {
		return invalid("amount", "must be a non-negative number")
	}
	for _, c := range []struct {
		name string
		v    *int
	}{{"days_in_stage", o.DaysInStage}, {"emails", o.Emails}, {"calls", o.Calls}, {"meetings", o.Meetings}} {
		if c.v != nil && *c.v < 0 {
			return invalid(c.name, "must not be negative")
		}
	}
	for _, d := range []struct {
		name string
		v    string
	}{{"open_date", o.OpenDate}, {"close_date", o.CloseDate}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, d.v); err != nil {
			return invalid(d.name, "must be a date such as 2026-01-31")
		}
	}
	var comps []string
	for _, c := range o.Competitors {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(comps, c) {
			comps = append(comps, c)
		}
	}
	o.Competitors = comps
	if len(o.Fields) > maxFields {
		return invalid("fields", "has %d entries; at most %d", len(o.Fields), maxFields)
	}
	for k, v := range o.Fields {
		switch x := v.(type) {
		case nil, string, bool:
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return invalid("fields."+k, "must be a finite number")
			}
		case int:
			o.Fields[k] = float64(x)
		default:
			return invalid("fields."+k, "must be a string, number or boolean")
		}
	}
	return nil
}

// closed reports whether o has a known outcome (a training example).
func (o *Opportunity) closed() bool { return o.Outcome == OutcomeWon || o.Outcome == OutcomeLost }

func (o *Opportunity) openTime() (time.Time, bool) {
	if o.OpenDate == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, o.OpenDate)
	return t, err == nil
}

func (o *Opportunity) closeTime() (time.Time, bool) {
	if o.CloseDate == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, o.CloseDate)
	return t, err == nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}
