package scoring

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Mapping says how the columns of a CSV file become opportunity fields.
// Named mappings cover the data sets DealDesk is measured on; a JSON
// mapping file covers any other CRM export.
type Mapping struct {
	Name string `json:"name"`
	// Columns maps opportunity fields (external_id, stage, amount, ...) to
	// CSV column names.
	Columns map[string]string `json:"columns"`
	// Fields lists the columns kept as free fields; "*" keeps every
	// column not mapped or dropped.
	Fields []string `json:"fields"`
	// Drop lists columns never imported (identifiers, free text).
	Drop []string `json:"drop"`
	// PostOutcome lists columns filled in after the outcome is known:
	// dropped unless the import keeps them on purpose (to measure how much
	// they leak).
	PostOutcome []string `json:"post_outcome"`
	// Missing lists values that mean "not answered".
	Missing []string `json:"missing"`
	// Won and Lost are the outcome column's values for each outcome.
	Won  []string `json:"won"`
	Lost []string `json:"lost"`
	// Stage is the stage of every row when no column gives one.
	Stage string `json:"stage"`
	// join: the named crm-opportunities mapping reads sibling files.
	join func(o *Opportunity, rec map[string]string) error
}

// ReadOptions tune a CSV import.
type ReadOptions struct {
	// Mapping is a named mapping (generic, crm-opportunities,
	// lead-scoring) or the path of a JSON mapping file.
	Mapping string
	// Dir is where sibling files (products.csv, accounts.csv,
	// sales_teams.csv) are looked for.
	Dir string
	// Sidecars are sibling files given directly (API uploads), by name.
	Sidecars map[string]io.Reader
	// KeepPostOutcome imports the mapping's post-outcome columns.
	KeepPostOutcome bool
}

// RowError is a row that could not be imported.
type RowError struct {
	Line       int    `json:"line"`
	ExternalID string `json:"external_id,omitempty"`
	Field      string `json:"field,omitempty"`
	Error      string `json:"error"`
}

// ReadResult is a parsed CSV file: the good rows and the bad ones.
type ReadResult struct {
	Rows          int           `json:"rows"`
	Opportunities []Opportunity `json:"-"`
	Errors        []RowError    `json:"errors"`
	// Dropped names the post-outcome columns left out.
	Dropped []string `json:"dropped_columns,omitempty"`
}

// MappingNames are the named mappings.
var MappingNames = []string{"generic", "crm-opportunities", "lead-scoring"}

// ErrBadMapping means the mapping is unknown or does not fit the file.
var ErrBadMapping = errors.New("bad mapping")

// LoadMapping returns a named mapping or reads a JSON mapping file.
func LoadMapping(name string, opt ReadOptions) (*Mapping, error) {
	switch name {
	case "", "generic":
		return &Mapping{Name: "generic", Fields: []string{"*"}}, nil
	case "lead-scoring":
		return &Mapping{
			Name: "lead-scoring",
			Columns: map[string]string{"external_id": "Prospect ID", "outcome": "Converted", "source": "Lead Source",
				"industry": "Specialization"},
			Fields:      []string{"*"},
			Drop:        []string{"Lead Number"},
			PostOutcome: []string{"Tags", "Lead Quality", "Asymmetrique Activity Index", "Asymmetrique Profile Index", "Asymmetrique Activity Score", "Asymmetrique Profile Score"},
			Missing:     []string{"Select"},
			Won:         []string{"1"}, Lost: []string{"0"},
			Stage: "lead",
		}, nil
	case "crm-opportunities":
		return crmMapping(opt)
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is neither %s nor a readable mapping file: %v", ErrBadMapping, name, strings.Join(MappingNames, ", "), err)
	}
	var m Mapping
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadMapping, name, err)
	}
	if m.Name == "" {
		m.Name = filepath.Base(name)
	}
	return &m, nil
}

// crmMapping is the Maven "CRM + Sales + Opportunities" export:
// sales_pipeline.csv joined with products.csv (list price: the deal size,
// since close_value is 0 for every lost deal), accounts.csv (sector, size)
// and sales_teams.csv (regional office, manager).
func crmMapping(opt ReadOptions) (*Mapping, error) {
	open := func(name string) ([]map[string]string, error) {
		var r io.Reader
		if s, ok := opt.Sidecars[name]; ok {
			r = s
		} else {
			f, err := os.Open(filepath.Join(opt.Dir, name))
			if err != nil {
				return nil, fmt.Errorf("%w: crm-opportunities needs %s next to the pipeline file: %v", ErrBadMapping, name, err)
			}
			defer f.Close()
			r = f
		}
		return readRecords(r)
	}
	products, err := open("products.csv")
	if err != nil {
		return nil, err
	}
	accounts, err := open("accounts.csv")
	if err != nil {
		return nil, err
	}
	teams, err := open("sales_teams.csv")
	if err != nil {
		return nil, err
	}
	price := map[string]map[string]string{}
	for _, p := range products {
		price[productKey(p["product"])] = p
	}
	acct := map[string]map[string]string{}
	for _, a := range accounts {
		acct[a["account"]] = a
	}
	team := map[string]map[string]string{}
	for _, t := range teams {
		team[t["sales_agent"]] = t
	}
	m := &Mapping{
		Name: "crm-opportunities",
		Columns: map[string]string{"external_id": "opportunity_id", "stage": "deal_stage", "owner": "sales_agent",
			"product_line": "product", "customer": "account", "open_date": "engage_date", "close_date": "close_date"},
		PostOutcome: []string{"close_value"},
	}
	m.join = func(o *Opportunity, rec map[string]string) error {
		o.Currency = "USD"
		p, ok := price[productKey(rec["product"])]
		if !ok {
			return &FieldError{Field: "product", Reason: fmt.Sprintf("product %q is not in products.csv", rec["product"])}
		}
		o.ProductLine = p["product"] // GTXPro in the pipeline is GTX Pro in products.csv
		if v, err := strconv.ParseFloat(p["sales_price"], 64); err == nil {
			o.Amount = &v
		}
		o.Fields = setField(o.Fields, "series", p["series"])
		if a, ok := acct[rec["account"]]; ok {
			o.Industry = strings.ReplaceAll(a["sector"], "technolgy", "technology")
			if emp, err := strconv.ParseFloat(a["employees"], 64); err == nil {
				o.CustomerSize = sizeClass(emp)
				o.Fields = setField(o.Fields, "employees", emp)
			}
			if rev, err := strconv.ParseFloat(a["revenue"], 64); err == nil {
				o.Fields = setField(o.Fields, "revenue", rev)
			}
			if y, err := strconv.ParseFloat(a["year_established"], 64); err == nil {
				o.Fields = setField(o.Fields, "year_established", y)
			}
			o.Fields = setField(o.Fields, "office_location", a["office_location"])
			if a["subsidiary_of"] != "" {
				o.Fields = setField(o.Fields, "subsidiary_of", a["subsidiary_of"])
			}
		}
		if t, ok := team[rec["sales_agent"]]; ok {
			o.Region = t["regional_office"]
			o.Fields = setField(o.Fields, "manager", t["manager"])
		}
		if opt.KeepPostOutcome && rec["close_value"] != "" {
			if v, err := strconv.ParseFloat(rec["close_value"], 64); err == nil {
				o.Fields = setField(o.Fields, "close_value", v)
			}
		}
		return nil
	}
	return m, nil
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

func productKey(s string) string { return nonAlnum.ReplaceAllString(strings.ToLower(s), "") }

// sizeClass buckets a head count.
func sizeClass(employees float64) string {
	switch {
	case employees < 1000:
		return "smb"
	case employees < 5000:
		return "mid"
	}
	return "enterprise"
}

func setField(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return m
	}
	m[k] = v
	return m
}

func readRecords(r io.Reader) ([]map[string]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for i, h := range header {
			if i < len(rec) {
				m[strings.TrimSpace(h)] = strings.TrimSpace(rec[i])
			}
		}
		out = append(out, m)
	}
}

// fieldKey is a free field's key for a column name: "Total Time Spent on
// Website" is total_time_spent_on_website.
func fieldKey(col string) string {
	return strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(col), "_"), "_")
}

// opportunityColumns are the fields a generic mapping recognises by header.
var opportunityColumns = []string{"external_id", "name", "customer", "stage", "amount", "currency", "region", "industry",
	"customer_size", "product_line", "competitors", "source", "owner", "days_in_stage", "emails", "calls", "meetings",
	"last_activity_at", "outcome", "open_date", "close_date"}

// ReadCSV parses a CSV export into opportunities. Bad rows are reported
// with their line and skipped; good rows are kept.
func ReadCSV(r io.Reader, opt ReadOptions) (*ReadResult, error) {
	m, err := LoadMapping(opt.Mapping, opt)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: no CSV header: %v", ErrBadMapping, err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	cols := map[string]string{}
	for k, v := range m.Columns {
		cols[k] = v
	}
	if m.Name == "generic" {
		for _, h := range header {
			if k := fieldKey(h); contains(opportunityColumns, k) {
				cols[k] = h
			}
		}
	}
	if _, ok := cols["external_id"]; !ok {
		return nil, fmt.Errorf("%w: no external_id column (name one external_id, or map it in a mapping file)", ErrBadMapping)
	}
	for k, c := range cols {
		if !contains(header, c) && !(m.Name == "crm-opportunities" && k == "close_date") {
			return nil, fmt.Errorf("%w: mapping %s wants column %q for %s, which the file lacks", ErrBadMapping, m.Name, c, k)
		}
	}
	mapped := map[string]bool{}
	for _, c := range cols {
		mapped[c] = true
	}
	res := &ReadResult{}
	keep := map[string]bool{}
	for _, h := range header {
		switch {
		case mapped[h] || contains(m.Drop, h) || h == "":
		case contains(m.PostOutcome, h) && !opt.KeepPostOutcome:
			res.Dropped = append(res.Dropped, h)
		case contains(m.Fields, "*") || contains(m.Fields, h):
			keep[h] = true
		}
	}
	missing := func(s string) bool { return s == "" || contains(m.Missing, s) }
	line := 1
	for {
		rec, err := cr.Read()
		line++
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.Errors = append(res.Errors, RowError{Line: pe.Line, Error: pe.Err.Error()})
				continue
			}
			return nil, err
		}
		res.Rows++
		vals := map[string]string{}
		for i, h := range header {
			if i < len(rec) {
				vals[h] = strings.TrimSpace(rec[i])
			}
		}
		o, ferr := buildOpportunity(m, cols, keep, vals, missing)
		if ferr == nil && m.join != nil {
			ferr = m.join(&o, vals)
		}
		if ferr == nil {
			ferr = o.Normalize(true)
		}
		if ferr != nil {
			re := RowError{Line: line, ExternalID: o.ExternalID, Error: ferr.Error()}
			var fe *FieldError
			if errors.As(ferr, &fe) {
				re.Field, re.Error = fe.Field, fe.Reason
			}
			res.Errors = append(res.Errors, re)
			continue
		}
		res.Opportunities = append(res.Opportunities, o)
	}
	return res, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func buildOpportunity(m *Mapping, cols map[string]string, keep map[string]bool, vals map[string]string, missing func(string) bool) (Opportunity, error) {
	var o Opportunity
	get := func(k string) string {
		c, ok := cols[k]
		if !ok {
			return ""
		}
		v := vals[c]
		if missing(v) {
			return ""
		}
		return v
	}
	o.ExternalID = get("external_id")
	for k, dst := range map[string]*string{"name": &o.Name, "customer": &o.Customer, "stage": &o.Stage, "currency": &o.Currency,
		"region": &o.Region, "industry": &o.Industry, "customer_size": &o.CustomerSize, "product_line": &o.ProductLine,
		"source": &o.Source, "owner": &o.Owner, "open_date": &o.OpenDate, "close_date": &o.CloseDate} {
		*dst = get(k)
	}
	if o.Stage == "" {
		o.Stage = m.Stage
	}
	if v := get("outcome"); v != "" {
		switch {
		case contains(m.Won, v):
			o.Outcome = OutcomeWon
		case contains(m.Lost, v):
			o.Outcome = OutcomeLost
		default:
			o.Outcome = v
		}
		if m.Stage != "" && o.Outcome != OutcomeOpen {
			// The mapping's fixed stage is where the record was when the
			// outcome came: keep it as the last open stage.
			o.Stage = m.Stage
		}
	}
	if v := get("amount"); v != "" {
		f, err := parseNumber(v)
		if err != nil {
			return o, invalid("amount", "%q is not a number", v)
		}
		o.Amount = &f
	}
	for k, dst := range map[string]**int{"days_in_stage": &o.DaysInStage, "emails": &o.Emails, "calls": &o.Calls, "meetings": &o.Meetings} {
		if v := get(k); v != "" {
			f, err := parseNumber(v)
			if err != nil || f != float64(int(f)) {
				return o, invalid(k, "%q is not a whole number", v)
			}
			n := int(f)
			*dst = &n
		}
	}
	if v := get("competitors"); v != "" {
		o.Competitors = strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == '|' || r == ',' })
	}
	if v := get("last_activity_at"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return o, invalid("last_activity_at", "%q is not a date or RFC 3339 time", v)
		}
		o.LastActivityAt = &t
	}
	for h := range keep {
		v := vals[h]
		if missing(v) {
			continue
		}
		if f, err := parseNumber(v); err == nil {
			o.Fields = setField(o.Fields, fieldKey(h), f)
		} else {
			o.Fields = setField(o.Fields, fieldKey(h), v)
		}
	}
	return o, nil
}

func parseNumber(s string) (float64, error) {
	return strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
}
