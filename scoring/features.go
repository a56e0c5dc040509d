package scoring

import (
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// value is one field of an opportunity as the encoders see it.
type value struct {
	missing bool
	isNum   bool
	num     float64
	cat     string
	set     []string // competitors
}

// coreFields are the opportunity fields that can be features, with their
// kind. Identifiers (external id, name), the outcome and the close date are
// never features: the close date is only known once the outcome is.
var coreFields = []struct{ name, kind, label string }{
	{"stage", kindCategory, "Stage"},
	{"amount", kindNumber, "Deal size"},
	{"currency", kindCategory, "Currency"},
	{"region", kindCategory, "Region"},
	{"industry", kindCategory, "Industry"},
	{"customer", kindCategory, "Customer"},
	{"customer_size", kindCategory, "Customer size"},
	{"product_line", kindCategory, "Product line"},
	{"source", kindCategory, "Lead source"},
	{"owner", kindCategory, "Owner"},
	{"competitors", kindSet, "Competitor"},
	{"competitor_count", kindNumber, "Number of competitors"},
	{"days_in_stage", kindNumber, "Days in stage"},
	{"emails", kindNumber, "Emails"},
	{"calls", kindNumber, "Calls"},
	{"meetings", kindNumber, "Meetings"},
	{"month_of_quarter", kindCategory, "Month of quarter when opened"},
}

// Field kinds.
const (
	kindNumber   = "number"
	kindCategory = "category"
	kindSet      = "set"
)

// missingWords are values CRMs use for "not answered".
var missingWords = map[string]bool{"": true, "na": true, "n/a": true, "null": true, "nan": true, "none": true, "-": true, "unknown": true}

func fieldValue(o *Opportunity, name string) value {
	cat := func(s string) value {
		if missingWords[strings.ToLower(strings.TrimSpace(s))] {
			return value{missing: true}
		}
		return value{cat: s}
	}
	num := func(p *int) value {
		if p == nil {
			return value{missing: true}
		}
		return value{isNum: true, num: float64(*p)}
	}
	switch name {
	case "stage":
		if o.Stage == OutcomeWon || o.Stage == OutcomeLost {
			// A terminal stage is the outcome itself.
			return value{missing: true}
		}
		return cat(o.Stage)
	case "amount":
		if o.Amount == nil {
			return value{missing: true}
		}
		return value{isNum: true, num: *o.Amount}
	case "currency":
		return cat(o.Currency)
	case "region":
		return cat(o.Region)
	case "industry":
		return cat(o.Industry)
	case "customer":
		return cat(o.Customer)
	case "customer_size":
		return cat(o.CustomerSize)
	case "product_line":
		return cat(o.ProductLine)
	case "source":
		return cat(o.Source)
	case "owner":
		return cat(o.Owner)
	case "competitors":
		return value{set: o.Competitors}
	case "competitor_count":
		return value{isNum: true, num: float64(len(o.Competitors))}
	case "days_in_stage":
		return num(o.DaysInStage)
	case "emails":
		return num(o.Emails)
	case "calls":
		return num(o.Calls)
	case "meetings":
		return num(o.Meetings)
	case "month_of_quarter":
		t, ok := o.openTime()
		if !ok {
			return value{missing: true}
		}
		return value{cat: strconv.Itoa(int(t.Month()-1)%3 + 1)}
	}
	if k, ok := strings.CutPrefix(name, "fields."); ok {
		switch v := o.Fields[k].(type) {
		case float64:
			return value{isNum: true, num: v}
		case bool:
			return value{cat: strconv.FormatBool(v)}
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return value{isNum: true, num: f}
			}
			return cat(v)
		}
	}
	return value{missing: true}
}

// candidateFields lists the fields a training set offers: the core fields
// and every free field, minus the excluded ones (path.Match patterns,
// matched case-insensitively against "amount" or "fields.tags" and "tags").
func candidateFields(opps []*Opportunity, exclude []string) []fieldInfo {
	excluded := func(name string) bool {
		short := strings.TrimPrefix(name, "fields.")
		for _, p := range exclude {
			p = strings.ToLower(strings.TrimSpace(p))
			for _, n := range []string{name, short} {
				if ok, _ := path.Match(p, strings.ToLower(n)); ok {
					return true
				}
			}
		}
		return false
	}
	var out []fieldInfo
	for _, f := range coreFields {
		if !excluded(f.name) {
			out = append(out, fieldInfo{Name: f.name, Kind: f.kind, Label: f.label})
		}
	}
	keys := map[string]bool{}
	for _, o := range opps {
		for k := range o.Fields {
			keys[k] = true
		}
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name := "fields." + k
		if excluded(name) {
			continue
		}
		kind := kindNumber
		seen := false
		for _, o := range opps {
			v := fieldValue(o, name)
			if v.missing {
				continue
			}
			seen = true
			if !v.isNum {
				kind = kindCategory
				break
			}
		}
		if seen {
			out = append(out, fieldInfo{Name: name, Kind: kind, Label: k})
		}
	}
	return out
}

type fieldInfo struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Label string `json:"label"`
}

// Encoder turns opportunities into model columns. Each field owns a
// contiguous run of columns, so a field's contribution is the sum over its
// columns.
type Encoder struct {
	Fields []fieldEncoder `json:"fields"`
	Width  int            `json:"width"`
	// Raw marks the baseline encoder: numbers as they are (missing as 0),
	// every category level one-hot, no transforms.
	Raw bool `json:"raw,omitempty"`
}

type fieldEncoder struct {
	fieldInfo
	Start int `json:"start"`
	// Numbers: the transform (log1p or none), clip range, imputed value
	// and standardisation; Cuts are quantile-bin edges on the transformed
	// scale, each bin a column after the linear one.
	Log     bool      `json:"log,omitempty"`
	Lo      float64   `json:"lo,omitempty"`
	Hi      float64   `json:"hi,omitempty"`
	Impute  float64   `json:"impute,omitempty"`
	Mean    float64   `json:"mean,omitempty"`
	SD      float64   `json:"sd,omitempty"`
	Linear  bool      `json:"linear,omitempty"`
	Cuts    []float64 `json:"cuts,omitempty"`
	Missing int       `json:"missing"` // column of the missing indicator, -1 none
	// Categories and sets: a column per level, Other for pooled rare or
	// unseen levels (-1 none).
	Levels []string `json:"levels,omitempty"`
	Other  int      `json:"other"`
	Cols   int      `json:"cols"`
}

// Encoding options of the product model.
const (
	maxLevels = 40
	numBins   = 4
)

// newEncoder fits the product encoder on training opportunities.
func newEncoder(opps []*Opportunity, exclude []string) *Encoder {
	n := len(opps)
	minCount := max(5, n/200)
	e := &Encoder{}
	for _, fi := range candidateFields(opps, exclude) {
		fe := fieldEncoder{fieldInfo: fi, Start: e.Width, Missing: -1, Other: -1}
		vals := make([]value, n)
		missing := 0
		for i, o := range opps {
			vals[i] = fieldValue(o, fi.Name)
			if vals[i].missing || (fi.Kind == kindSet && len(vals[i].set) == 0) {
				missing++
			}
		}
		switch fi.Kind {
		case kindNumber:
			xs := make([]float64, 0, n)
			for _, v := range vals {
				if !v.missing && v.isNum {
					xs = append(xs, v.num)
				}
			}
			if len(xs) < minCount {
				continue
			}
			slices.Sort(xs)
			q := func(p float64) float64 { return xs[min(len(xs)-1, int(p*float64(len(xs)-1)+0.5))] }
			if xs[0] >= 0 && xs[len(xs)-1] > 10*(q(0.5)+1) {
				fe.Log = true
				for i := range xs {
					xs[i] = math.Log1p(xs[i])
				}
			}
			fe.Lo, fe.Hi = q(0.01), q(0.99)
			fe.Impute = q(0.5)
			var s, ss float64
			for _, x := range xs {
				x = math.Min(math.Max(x, fe.Lo), fe.Hi)
				s += x
				ss += x * x
			}
			fe.Mean = s / float64(len(xs))
			fe.SD = math.Sqrt(math.Max(ss/float64(len(xs))-fe.Mean*fe.Mean, 0))
			if fe.SD < 1e-12 {
				continue // constant
			}
			fe.Linear = true
			fe.Cols = 1
			distinct := 1
			for i := 1; i < len(xs); i++ {
				if xs[i] != xs[i-1] {
					distinct++
				}
			}
			if distinct >= 5 {
				for b := 1; b < numBins; b++ {
					c := q(float64(b) / numBins)
					if c > xs[0] && (len(fe.Cuts) == 0 || c > fe.Cuts[len(fe.Cuts)-1]) {
						fe.Cuts = append(fe.Cuts, c)
					}
				}
				if len(fe.Cuts) > 0 {
					fe.Cols += len(fe.Cuts) + 1
				}
			}
			if missing >= minCount || (missing > 0 && missing < n) {
				fe.Missing = fe.Cols
				fe.Cols++
			}
		case kindCategory, kindSet:
			counts := map[string]int{}
			for _, v := range vals {
				if fi.Kind == kindSet {
					for _, s := range v.set {
						counts[s]++
					}
				} else if !v.missing {
					counts[v.cat]++
				}
			}
			levels := make([]string, 0, len(counts))
			for l, c := range counts {
				if c >= minCount {
					levels = append(levels, l)
				}
			}
			sort.Slice(levels, func(i, j int) bool {
				return counts[levels[i]] > counts[levels[j]] || counts[levels[i]] == counts[levels[j]] && levels[i] < levels[j]
			})
			if len(levels) > maxLevels {
				levels = levels[:maxLevels]
			}
			sort.Strings(levels)
			pooled := 0
			for l, c := range counts {
				if !slices.Contains(levels, l) {
					pooled += c
				}
			}
			fe.Levels = levels
			fe.Cols = len(levels)
			if pooled > 0 {
				fe.Other = fe.Cols
				fe.Cols++
			}
			if missing > 0 && fi.Kind == kindCategory {
				fe.Missing = fe.Cols
				fe.Cols++
			}
			if fe.Cols <= 1 && fi.Kind == kindCategory {
				continue // a single column here is constant
			}
			if fe.Cols == 0 {
				continue
			}
		}
		fe.Start = e.Width
		e.Width += fe.Cols
		e.Fields = append(e.Fields, fe)
	}
	return e
}

// newRawEncoder fits the baseline's encoder: raw numbers, every level.
func newRawEncoder(opps []*Opportunity, exclude []string) *Encoder {
	e := &Encoder{Raw: true}
	for _, fi := range candidateFields(opps, exclude) {
		if fi.Name == "month_of_quarter" || fi.Name == "competitors" {
			continue // engineered from raw fields: not the baseline's
		}
		fe := fieldEncoder{fieldInfo: fi, Start: e.Width, Missing: -1, Other: -1}
		if fi.Kind == kindNumber {
			seen := false
			for _, o := range opps {
				if v := fieldValue(o, fi.Name); !v.missing && v.num != 0 {
					seen = true
					break
				}
			}
			if !seen {
				continue
			}
			fe.Linear, fe.Cols = true, 1
		} else {
			levels := map[string]bool{}
			for _, o := range opps {
				if v := fieldValue(o, fi.Name); !v.missing {
					levels[v.cat] = true
				}
			}
			if len(levels) < 2 {
				continue
			}
			for l := range levels {
				fe.Levels = append(fe.Levels, l)
			}
			sort.Strings(fe.Levels)
			fe.Cols = len(fe.Levels)
		}
		e.Width += fe.Cols
		e.Fields = append(e.Fields, fe)
	}
	return e
}

// encode appends o's non-zero columns to r (ascending), remembering per
// field the display value.
func (e *Encoder) encode(o *Opportunity) row {
	r := row{idx: make([]int32, 0, 2*len(e.Fields)), val: make([]float64, 0, 2*len(e.Fields))}
	for i := range e.Fields {
		e.Fields[i].encode(o, &r, e.Raw)
	}
	return r
}

func (f *fieldEncoder) encode(o *Opportunity, r *row, raw bool) {
	v := fieldValue(o, f.Name)
	put := func(col int, x float64) {
		if x != 0 {
			r.idx = append(r.idx, int32(f.Start+col))
			r.val = append(r.val, x)
		}
	}
	switch f.Kind {
	case kindNumber:
		if raw {
			if !v.missing && v.isNum {
				put(0, v.num)
			}
			return
		}
		x := f.Impute
		if !v.missing && v.isNum {
			x = v.num
			if f.Log {
				x = math.Log1p(math.Max(x, 0))
			}
		}
		x = math.Min(math.Max(x, f.Lo), f.Hi)
		put(0, (x-f.Mean)/f.SD)
		if len(f.Cuts) > 0 {
			b := sort.SearchFloat64s(f.Cuts, x)
			// SearchFloat64s finds the first cut >= x; a value equal to a
			// cut belongs to the bin above it.
			if b < len(f.Cuts) && f.Cuts[b] == x {
				b++
			}
			put(1+b, 1)
		}
		if (v.missing || !v.isNum) && f.Missing >= 0 {
			put(f.Missing, 1)
		}
	case kindCategory:
		if v.missing {
			if f.Missing >= 0 {
				put(f.Missing, 1)
			}
			return
		}
		if j, ok := slices.BinarySearch(f.Levels, v.cat); ok {
			put(j, 1)
		} else if f.Other >= 0 {
			put(f.Other, 1)
		}
	case kindSet:
		other := false
		var cols []int
		for _, s := range v.set {
			if j, ok := slices.BinarySearch(f.Levels, s); ok {
				cols = append(cols, j)
			} else {
				other = true
			}
		}
		slices.Sort(cols)
		for _, j := range cols {
			put(j, 1)
		}
		if other && f.Other >= 0 {
			put(f.Other, 1)
		}
	}
}

// display is how a field's value is shown in a factor.
func display(o *Opportunity, f *fieldEncoder) string {
	v := fieldValue(o, f.Name)
	switch {
	case f.Kind == kindSet:
		if len(v.set) == 0 {
			return "none"
		}
		return strings.Join(v.set, ", ")
	case v.missing:
		return "unknown"
	case v.isNum:
		return strconv.FormatFloat(v.num, 'f', -1, 64)
	}
	return v.cat
}

// describe lists the encoder's features for the model record.
func (e *Encoder) describe() []map[string]any {
	out := make([]map[string]any, 0, len(e.Fields))
	for _, f := range e.Fields {
		d := map[string]any{"name": f.Name, "kind": f.Kind, "columns": f.Cols}
		if f.Log {
			d["transform"] = "log1p"
		}
		if len(f.Levels) > 0 {
			d["levels"] = len(f.Levels)
		}
		out = append(out, d)
	}
	return out
}

func (e *Encoder) String() string {
	return fmt.Sprintf("%d fields, %d columns", len(e.Fields), e.Width)
}
