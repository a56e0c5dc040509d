package scoring

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Rules are the cold-start model: stage base rates adjusted by activity
// recency, meetings, competitors and a stalled stage. Every adjustment is
// a fixed log-odds step, shown as a factor, so the score is as transparent
// as the rule list below.
type Rules struct {
	// StageRates are the win rates assumed for each open stage.
	StageRates map[string]float64 `json:"stage_rates"`
	// Prior is the rate the factors start from.
	Prior             float64 `json:"prior"`
	RecentActivity    float64 `json:"recent_activity"`     // last touch within 7 days
	NoActivity        float64 `json:"no_activity"`         // nothing for 30 days, or nothing logged
	Meetings          float64 `json:"meetings"`            // two or more meetings
	PerCompetitor     float64 `json:"per_competitor"`      // each competitor, up to three
	Stalled           float64 `json:"stalled"`             // past the typical days in stage
	RecentDays        int     `json:"recent_days"`         // 7
	InactiveDays      int     `json:"inactive_days"`       // 30
	MaxCompetitorHits int     `json:"max_competitor_hits"` // 3
}

// DefaultRules are the cold-start rules; the stage rates are common
// pipeline conversion rates, not fitted to any tenant.
func DefaultRules() *Rules {
	return &Rules{
		StageRates: map[string]float64{"lead": 0.05, "prospecting": 0.10, "qualification": 0.20, "engaging": 0.30,
			"proposal": 0.45, "negotiation": 0.65, "won": 0.99, "lost": 0.01},
		Prior: 0.25, RecentActivity: 0.3, NoActivity: -0.6, Meetings: 0.3, PerCompetitor: -0.25, Stalled: -0.5,
		RecentDays: 7, InactiveDays: 30, MaxCompetitorHits: 3,
	}
}

// defaultStageDays are typical days in each stage before a tenant has data.
var defaultStageDays = map[string]float64{"lead": 14, "prospecting": 21, "qualification": 30, "engaging": 30, "proposal": 30, "negotiation": 21}

func (r *Rules) apply(o *Opportunity, stageDays map[string]float64, now time.Time) (float64, []Factor) {
	base := logitOf(r.Prior)
	var fs []Factor
	add := func(feature, label, val string, c float64) {
		fs = append(fs, Factor{Feature: feature, Label: label, Value: val, Contribution: c})
	}
	if rate, ok := r.StageRates[o.Stage]; ok {
		add("stage", "Stage (typical win rate "+fmt.Sprintf("%.0f%%", 100*rate)+")", o.Stage, logitOf(rate)-base)
	}
	if o.LastActivityAt != nil {
		days := int(now.Sub(*o.LastActivityAt).Hours() / 24)
		switch {
		case days <= r.RecentDays:
			add("last_activity_at", "Recent activity", fmt.Sprintf("%d days ago", days), r.RecentActivity)
		case days > r.InactiveDays:
			add("last_activity_at", "No recent activity", fmt.Sprintf("%d days ago", days), r.NoActivity)
		}
	} else if activityKnown(o) && activityTotal(o) == 0 {
		add("last_activity_at", "No activity logged", "none", r.NoActivity)
	}
	if o.Meetings != nil && *o.Meetings >= 2 {
		add("meetings", "Meetings", fmt.Sprint(*o.Meetings), r.Meetings)
	}
	if n := min(len(o.Competitors), r.MaxCompetitorHits); n > 0 {
		add("competitors", "Competitors", joinList(o.Competitors), float64(n)*r.PerCompetitor)
	}
	if typical, ok := typicalDays(stageDays, o.Stage); ok && o.DaysInStage != nil && float64(*o.DaysInStage) > typical {
		add("days_in_stage", fmt.Sprintf("Stalled (typical %.0f days)", typical), fmt.Sprint(*o.DaysInStage), r.Stalled)
	}
	return base, fs
}

func typicalDays(stageDays map[string]float64, stage string) (float64, bool) {
	if d, ok := stageDays[stage]; ok && d > 0 {
		return d, true
	}
	d, ok := defaultStageDays[stage]
	return d, ok
}

func activityKnown(o *Opportunity) bool {
	return o.Emails != nil || o.Calls != nil || o.Meetings != nil
}

func activityTotal(o *Opportunity) int {
	t := 0
	for _, p := range []*int{o.Emails, o.Calls, o.Meetings} {
		if p != nil {
			t += *p
		}
	}
	return t
}

func joinList(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// rulesModel is the cold-start model, version 0 until one is stored.
func rulesModel(stageDays map[string]float64) *Model {
	return &Model{Method: MethodRules, Rules: DefaultRules(), Bands: DefaultBands, StageDays: stageDays, Platt: Platt{A: 1}}
}

// stageDurations is the 75th percentile of days in stage per open stage,
// for stages with at least 10 opportunities reporting it.
func stageDurations(opps []*Opportunity) map[string]float64 {
	by := map[string][]float64{}
	for _, o := range opps {
		if o.DaysInStage != nil && o.Stage != OutcomeWon && o.Stage != OutcomeLost {
			by[o.Stage] = append(by[o.Stage], float64(*o.DaysInStage))
		}
	}
	out := map[string]float64{}
	for s, xs := range by {
		if len(xs) < 10 {
			continue
		}
		out[s] = quantile(xs, 0.75)
	}
	return out
}

func quantile(xs []float64, q float64) float64 {
	c := append([]float64(nil), xs...)
	slices.Sort(c)
	pos := q * float64(len(c)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(c)-1)
	return c[lo] + (pos-float64(lo))*(c[hi]-c[lo])
}
