package scoring

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func trained(t testing.TB) *Model {
	t.Helper()
	m, err := Train(testdata(t), TrainOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != MethodLogistic {
		t.Fatalf("method = %s: %s", m.Method, m.Report.Note)
	}
	return m
}

func factor(p Prediction, feature string) (Factor, bool) {
	for _, f := range p.Factors {
		if f.Feature == feature {
			return f, true
		}
	}
	return Factor{}, false
}

// checkSum asserts that the base log-odds plus the factors give the
// probability's log-odds.
func checkSum(t *testing.T, p Prediction) {
	t.Helper()
	sum := logitOf(p.BaseProbability)
	for _, f := range p.Factors {
		sum += f.Contribution
	}
	if got := sigmoid(sum); math.Abs(got-p.Probability) > 2e-3 {
		t.Fatalf("base %.4f + factors give %.4f, probability is %.4f", p.BaseProbability, got, p.Probability)
	}
}

func TestModelLearnsTheSignalAndBeatsChance(t *testing.T) {
	m := trained(t)
	r := m.Report
	if r.Split != "time (close_date)" || r.Test == 0 || r.Baseline == nil {
		t.Fatalf("report = %+v", r)
	}
	if r.Model.AUC < 0.7 {
		t.Errorf("held-out AUC %.3f on a data set with a strong signal", r.Model.AUC)
	}
	if r.Model.Brier >= 0.25 {
		t.Errorf("Brier %.3f is no better than a coin", r.Model.Brier)
	}
	n := 0
	for _, b := range r.Model.Calibration {
		n += b.Count
	}
	if n != r.Test || len(r.Model.Calibration) != 10 {
		t.Errorf("calibration table covers %d of %d", n, r.Test)
	}
}

func TestFactorsPointTheRightWay(t *testing.T) {
	m := trained(t)
	base := Opportunity{ExternalID: "x", Stage: "proposal", Amount: ptr(22000.0), Region: "jiangsu", Industry: "retail",
		Source: "web", DaysInStage: ptr(45), Emails: ptr(10), Calls: ptr(5), Meetings: ptr(3), Outcome: OutcomeOpen,
		Fields: map[string]any{"budget_confirmed": "yes"}}
	vary := func(f func(o *Opportunity)) Prediction {
		o := base
		o.Fields = map[string]any{"budget_confirmed": "yes"}
		f(&o)
		if err := o.Normalize(true); err != nil {
			t.Fatal(err)
		}
		p := m.Predict(&o, now)
		checkSum(t, p)
		return p
	}
	tests := []struct {
		name    string
		feature string
		change  func(o *Opportunity)
		sign    float64
	}{
		{"many meetings", "meetings", func(o *Opportunity) { o.Meetings = ptr(6) }, +1},
		{"no meetings", "meetings", func(o *Opportunity) { o.Meetings = ptr(0) }, -1},
		{"competitor present", "competitor_count", func(o *Opportunity) { o.Competitors = []string{"Huawei", "Inspur"} }, -1},
		{"finance customer", "industry", func(o *Opportunity) { o.Industry = "finance" }, +1},
		{"stalled long", "days_in_stage", func(o *Opportunity) { o.DaysInStage = ptr(89) }, -1},
		{"budget not confirmed", "fields.budget_confirmed", func(o *Opportunity) { o.Fields["budget_confirmed"] = "no" }, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := vary(tt.change)
			f, ok := factor(p, tt.feature)
			if !ok || f.Contribution*tt.sign <= 0 || f.Points*tt.sign <= 0 {
				t.Fatalf("factor %s = %+v, want sign %+.0f", tt.feature, f, tt.sign)
			}
			side := p.FactorsFor
			if tt.sign < 0 {
				side = p.FactorsAgainst
			}
			for _, s := range side {
				if s.Contribution*tt.sign <= 0 {
					t.Errorf("factor %+v on the wrong side", s)
				}
			}
		})
	}
	good := vary(func(o *Opportunity) { o.Meetings, o.Industry, o.DaysInStage = ptr(6), "finance", ptr(5) })
	bad := vary(func(o *Opportunity) { o.Meetings, o.Competitors, o.DaysInStage = ptr(0), []string{"Huawei"}, ptr(89) })
	if good.Probability <= bad.Probability || good.Band == "low" || bad.Band == "high" {
		t.Fatalf("good %.3f (%s) vs bad %.3f (%s)", good.Probability, good.Band, bad.Probability, bad.Band)
	}
}

func TestColdStartUsesLabelledRules(t *testing.T) {
	opps := testdata(t)[:120]
	m, err := Train(opps, TrainOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != MethodRules || m.Rules == nil || !strings.Contains(m.Report.Note, "cold start") {
		t.Fatalf("model = %s, note %q", m.Method, m.Report.Note)
	}
	o := Opportunity{ExternalID: "c", Stage: "negotiation", Competitors: []string{"Huawei"}, DaysInStage: ptr(200),
		LastActivityAt: ptr(now.Add(-40 * 24 * time.Hour)), Meetings: ptr(3)}
	if err := o.Normalize(true); err != nil {
		t.Fatal(err)
	}
	p := m.Predict(&o, now)
	checkSum(t, p)
	for feature, sign := range map[string]float64{"stage": 1, "competitors": -1, "days_in_stage": -1, "last_activity_at": -1, "meetings": 1} {
		if f, ok := factor(p, feature); !ok || f.Contribution*sign <= 0 {
			t.Errorf("rule factor %s = %+v, want sign %+.0f", feature, f, sign)
		}
	}
	r := assessRisk(&o, m.StageDays, ptr(now.Add(-48*time.Hour)), now)
	if !r.Flag || len(r.Reasons) != 3 {
		t.Fatalf("risk = %+v, want inactivity, stalled stage and new competitor", r)
	}
	// A stricter threshold also falls back.
	if m, _ := Train(testdata(t), TrainOptions{MinOutcomes: 10000}); m.Method != MethodRules {
		t.Fatalf("min outcomes ignored: %s", m.Method)
	}
}

func TestExcludedFieldsAreNotUsed(t *testing.T) {
	m, err := Train(testdata(t), TrainOptions{Now: now, Exclude: []string{"budget_*", "meetings"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Encoder.Fields {
		if f.Name == "fields.budget_confirmed" || f.Name == "meetings" {
			t.Fatalf("excluded field %s in the model", f.Name)
		}
	}
}

func TestNormalizeRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		o     Opportunity
		field string
	}{
		{"missing external id", Opportunity{Stage: "lead"}, "external_id"},
		{"missing stage", Opportunity{ExternalID: "a"}, "stage"},
		{"unknown stage", Opportunity{ExternalID: "a", Stage: "dreaming"}, "stage"},
		{"negative amount", Opportunity{ExternalID: "a", Stage: "lead", Amount: ptr(-1.0)}, "amount"},
		{"bad date", Opportunity{ExternalID: "a", Stage: "lead", OpenDate: "yesterday"}, "open_date"},
		{"bad outcome", Opportunity{ExternalID: "a", Stage: "lead", Outcome: "maybe"}, "outcome"},
		{"outcome against stage", Opportunity{ExternalID: "a", Stage: "won", Outcome: "lost"}, "outcome"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Normalize(true)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
	o := Opportunity{ExternalID: " a ", Stage: "Closed Won", Region: "JiangSu", Competitors: []string{"x", " x", ""}}
	if err := o.Normalize(true); err != nil || o.Stage != "won" || o.Outcome != "won" || o.Region != "jiangsu" || len(o.Competitors) != 1 {
		t.Fatalf("normalized = %+v, %v", o, err)
	}
	if err := (&Opportunity{ExternalID: "a", Stage: "lead"}).Normalize(true); err != nil {
		t.Fatal(err)
	}
}

func TestReadCSVKeepsGoodRowsAndReportsBadOnes(t *testing.T) {
	in := "external_id,stage,amount,meetings,segment\nA,proposal,100,2,x\n,proposal,1,1,y\nC,dreaming,1,1,z\nD,lead,lots,1,z\nE,won,5,,w\n"
	res, err := ReadCSV(strings.NewReader(in), ReadOptions{Mapping: "generic"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 5 || len(res.Opportunities) != 2 || len(res.Errors) != 3 {
		t.Fatalf("result = %+v", res)
	}
	want := map[int]string{3: "external_id", 4: "stage", 5: "amount"}
	for _, e := range res.Errors {
		if want[e.Line] != e.Field {
			t.Errorf("row error %+v", e)
		}
	}
	if res.Opportunities[0].Fields["segment"] != "x" || res.Opportunities[1].Outcome != OutcomeWon {
		t.Fatalf("rows = %+v", res.Opportunities)
	}
	if _, err := ReadCSV(strings.NewReader("id,stage\n1,lead\n"), ReadOptions{Mapping: "generic"}); !errors.Is(err, ErrBadMapping) {
		t.Fatalf("no external_id column: %v", err)
	}
	if _, err := ReadCSV(strings.NewReader(in), ReadOptions{Mapping: "nope"}); !errors.Is(err, ErrBadMapping) {
		t.Fatalf("unknown mapping: %v", err)
	}
}

func TestCRMMappingJoinsAndFixesTheSource(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("products.csv", "product,series,sales_price\nGTX Pro,GTX,4821\n")
	write("accounts.csv", "account,sector,year_established,revenue,employees,office_location,subsidiary_of\nAcme,technolgy,1996,1100.04,2822,United States,\n")
	write("sales_teams.csv", "sales_agent,manager,regional_office\nAnna,Dustin,Central\n")
	pipeline := "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n" +
		"A1,Anna,GTXPro,Acme,Won,2017-01-02,2017-03-01,4700\nA2,Anna,GTXPro,,Engaging,2017-05-02,,\nA3,Anna,Nope,Acme,Lost,2017-01-02,2017-02-01,0\n"
	res, err := ReadCSV(strings.NewReader(pipeline), ReadOptions{Mapping: "crm-opportunities", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Opportunities) != 2 || len(res.Errors) != 1 || res.Errors[0].Field != "product" {
		t.Fatalf("result = %+v", res)
	}
	o := res.Opportunities[0]
	if o.ProductLine != "GTX Pro" || *o.Amount != 4821 || o.Industry != "technology" || o.Region != "central" ||
		o.CustomerSize != "mid" || o.Outcome != OutcomeWon || o.OpenDate != "2017-01-02" || o.Fields["close_value"] != nil {
		t.Fatalf("joined = %+v", o)
	}
	if res.Dropped[0] != "close_value" || res.Opportunities[1].Outcome != OutcomeOpen || res.Opportunities[1].Stage != "engaging" {
		t.Fatalf("result = %+v", res)
	}
	if _, err := ReadCSV(strings.NewReader(pipeline), ReadOptions{Mapping: "crm-opportunities", Dir: t.TempDir()}); !errors.Is(err, ErrBadMapping) {
		t.Fatalf("missing sibling files: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	m := evaluate([]float64{0.1, 0.4, 0.35, 0.8}, []float64{0, 0, 1, 1})
	if math.Abs(m.AUC-0.75) > 1e-9 || math.Abs(m.Brier-(0.01+0.16+0.4225+0.04)/4) > 1e-9 {
		t.Fatalf("metrics = %+v", m)
	}
	if auc([]float64{0.5, 0.5}, []float64{0, 1}) != 0.5 {
		t.Fatal("ties count half")
	}
}

func BenchmarkScoreBatch(b *testing.B) {
	opps := testdata(b)
	m, err := Train(opps, TrainOptions{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]*Opportunity, MaxBatch)
	for i := range batch {
		batch[i] = opps[i%len(opps)]
	}
	s := NewService(nil, nil, Config{})
	b.ResetTimer()
	for b.Loop() {
		out := s.ScoreWith(m, batch, nil, now)
		for i := range out {
			out[i].NextActions = nextActions(batch[i], &out[i])
		}
	}
	b.ReportMetric(float64(b.N*MaxBatch)/b.Elapsed().Seconds(), "opportunities/s")
}
