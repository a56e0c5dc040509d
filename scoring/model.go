package scoring

import (
	"math"
	"sort"
	"time"
)

// Methods a model can use.
const (
	MethodLogistic = "logistic_l2+platt"
	MethodRules    = "rules (cold start)"
)

// Bands are the probability thresholds of the high and medium bands.
type Bands struct {
	High   float64 `json:"high"`
	Medium float64 `json:"medium"`
}

// DefaultBands: high from 60%, medium from 30%, low below.
var DefaultBands = Bands{High: 0.6, Medium: 0.3}

func (b Bands) of(p float64) string {
	switch {
	case p >= b.High:
		return "high"
	case p >= b.Medium:
		return "medium"
	}
	return "low"
}

// Model is one version of a tenant's scoring model.
type Model struct {
	Version   int       `json:"version"`
	Method    string    `json:"method"`
	TrainedAt time.Time `json:"trained_at"`
	// TrainedOn is how many closed opportunities the tenant had.
	TrainedOn int   `json:"trained_on"`
	Active    bool  `json:"active"`
	Bands     Bands `json:"bands"`
	// StageDays is the tenant's typical days in each stage (75th
	// percentile); past it a deal counts as stalled.
	StageDays map[string]float64 `json:"stage_days"`
	// Logistic models.
	Encoder   *Encoder  `json:"encoder,omitempty"`
	Fit       *logistic `json:"fit,omitempty"`
	ColMeans  []float64 `json:"col_means,omitempty"`
	Platt     Platt     `json:"platt"`
	BaseLogit float64   `json:"base_logit"`
	Lambda    float64   `json:"lambda,omitempty"`
	// Rules models.
	Rules *Rules `json:"rules,omitempty"`
	// Metrics, stored with the version.
	Report *Report `json:"report,omitempty"`
}

// Factor is one field's push on a score.
type Factor struct {
	Feature string `json:"feature"`
	Label   string `json:"label"`
	Value   string `json:"value"`
	// Contribution is in log-odds: the factors plus the base log-odds sum
	// to the score's log-odds.
	Contribution float64 `json:"contribution"`
	// Points is how many percentage points the probability would lose
	// (or gain, when negative) without this factor, all else equal.
	Points float64 `json:"points"`
}

// Prediction is a model's answer for one opportunity, before risk,
// similar deals and next actions are added.
type Prediction struct {
	Probability float64 `json:"probability"`
	Band        string  `json:"band"`
	// BaseProbability is the score of an average opportunity: where the
	// factors start from.
	BaseProbability float64  `json:"base_probability"`
	Factors         []Factor `json:"-"`
	FactorsFor      []Factor `json:"factors_for"`
	FactorsAgainst  []Factor `json:"factors_against"`
}

// topFactors is how many factors each side shows.
const topFactors = 5

// Predict scores one opportunity. The factors are exact: base log-odds
// plus every factor's contribution is the log-odds of Probability.
func (m *Model) Predict(o *Opportunity, now time.Time) Prediction {
	var base float64
	var factors []Factor
	if m.Rules != nil {
		base, factors = m.Rules.apply(o, m.StageDays, now)
	} else {
		r := m.Encoder.encode(o)
		a := m.Platt.A
		base = a*m.BaseLogit + m.Platt.B
		// Each field's contribution: its weights times its columns'
		// distance from the training means, on the calibrated scale.
		k := 0
		for fi := range m.Encoder.Fields {
			f := &m.Encoder.Fields[fi]
			c := 0.0
			for j := f.Start; j < f.Start+f.Cols; j++ {
				x := 0.0
				if k < len(r.idx) && int(r.idx[k]) == j {
					x = r.val[k]
					k++
				}
				c += m.Fit.W[j] * (x - m.ColMeans[j])
			}
			factors = append(factors, Factor{Feature: f.Name, Label: f.Label, Value: display(o, f), Contribution: a * c})
		}
	}
	logit := base
	for _, f := range factors {
		logit += f.Contribution
	}
	p := sigmoid(logit)
	pr := Prediction{Probability: p, Band: m.Bands.of(p), BaseProbability: sigmoid(base), Factors: factors}
	for i := range factors {
		factors[i].Points = 100 * (p - sigmoid(logit-factors[i].Contribution))
		factors[i].Contribution = round(factors[i].Contribution, 4)
		factors[i].Points = round(factors[i].Points, 2)
	}
	sorted := append([]Factor(nil), factors...)
	sort.SliceStable(sorted, func(i, j int) bool { return math.Abs(sorted[i].Contribution) > math.Abs(sorted[j].Contribution) })
	pr.FactorsFor, pr.FactorsAgainst = []Factor{}, []Factor{}
	for _, f := range sorted {
		switch {
		case f.Contribution > 0.005 && len(pr.FactorsFor) < topFactors:
			pr.FactorsFor = append(pr.FactorsFor, f)
		case f.Contribution < -0.005 && len(pr.FactorsAgainst) < topFactors:
			pr.FactorsAgainst = append(pr.FactorsAgainst, f)
		}
	}
	pr.Probability = round(p, 4)
	pr.BaseProbability = round(pr.BaseProbability, 4)
	return pr
}

func round(x float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(x*s) / s
}

// logitOfRow is the uncalibrated log-odds of an encoded row.
func (m *Model) calibrated(r row) float64 {
	return sigmoid(m.Platt.A*m.Fit.logit(r) + m.Platt.B)
}
