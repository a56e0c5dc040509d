package scoring

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "regenerate testdata/opportunities.csv")

// The generated data set has a known signal: meetings and a finance
// customer help, competitors and a long time in stage hurt, deal size
// hurts a little. Everything else (region, source) is noise.
func generate(n int, seed uint64) [][]string {
	rng := rand.New(rand.NewPCG(seed, 7))
	industries := []string{"finance", "retail", "government", "manufacturing"}
	regions := []string{"jiangsu", "beijing", "zhejiang"}
	sources := []string{"web", "referral", "event"}
	stages := []string{"qualification", "engaging", "proposal", "negotiation"}
	rows := [][]string{{"external_id", "name", "stage", "amount", "region", "industry", "source", "competitors", "days_in_stage",
		"emails", "calls", "meetings", "outcome", "open_date", "close_date", "budget_confirmed"}}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		ind := industries[rng.IntN(len(industries))]
		meetings := rng.IntN(7)
		comps := ""
		if rng.Float64() < 0.4 {
			comps = []string{"Huawei", "Inspur", "Huawei;Inspur"}[rng.IntN(3)]
		}
		days := rng.IntN(90)
		amount := math.Round(math.Exp(10 + 1.5*rng.NormFloat64()))
		budget := []string{"yes", "no"}[rng.IntN(2)]
		z := -0.4 + 0.55*float64(meetings-3) - 1.1*b(comps != "") + 0.9*b(ind == "finance") - 0.02*float64(days-45) -
			0.25*(math.Log(amount)-10) + 0.6*b(budget == "yes")
		outcome := "lost"
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			outcome = "won"
		}
		opened := start.AddDate(0, 0, i*2/3)
		closed := opened.AddDate(0, 0, 20+rng.IntN(60))
		if i >= n-40 { // the last few are still open
			outcome, closed = "open", time.Time{}
		}
		closeS := ""
		if !closed.IsZero() {
			closeS = closed.Format(time.DateOnly)
		}
		rows = append(rows, []string{fmt.Sprintf("OPP-%04d", i), fmt.Sprintf("Deal %d", i), stages[rng.IntN(len(stages))],
			strconv.FormatFloat(amount, 'f', 0, 64), regions[rng.IntN(len(regions))], ind, sources[rng.IntN(len(sources))], comps,
			strconv.Itoa(days), strconv.Itoa(rng.IntN(20)), strconv.Itoa(rng.IntN(10)), strconv.Itoa(meetings), outcome,
			opened.Format(time.DateOnly), closeS, budget})
	}
	return rows
}

func b(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

const testdataCSV = "testdata/opportunities.csv"

func TestGeneratedTestdataIsCurrent(t *testing.T) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(generate(600, 42))
	if *update {
		if err := os.WriteFile(testdataCSV, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(testdataCSV)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("%s is stale: go test ./scoring -run TestGeneratedTestdataIsCurrent -update", testdataCSV)
	}
}

// testdata reads the generated data set through the generic CSV import.
func testdata(t testing.TB) []*Opportunity {
	t.Helper()
	f, err := os.Open(testdataCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ReadCSV(f, ReadOptions{Mapping: "generic"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("row errors: %+v", res.Errors)
	}
	out := make([]*Opportunity, len(res.Opportunities))
	for i := range res.Opportunities {
		out[i] = &res.Opportunities[i]
	}
	return out
}

func testdataBytes(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(testdataCSV)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
