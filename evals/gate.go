package evals

import (
	"fmt"
	"maps"
	"slices"
)

// Gate is the verdict on a run: every check must pass.
type Gate struct {
	Passed bool        `json:"passed"`
	Checks []GateCheck `json:"checks"`
}

// GateCheck is one threshold applied to one metric. Allowed is the worst
// value that passes: a floor for higher-is-better metrics, a ceiling for
// latencies. Baseline is nil for absolute checks.
type GateCheck struct {
	Metric   string   `json:"metric"`
	Baseline *float64 `json:"baseline,omitempty"`
	Current  *float64 `json:"current"`
	Allowed  float64  `json:"allowed"`
	Passed   bool     `json:"passed"`
	// Rule says which threshold this is ("min_pass_rate",
	// "max_metric_drop 0.05").
	Rule string `json:"rule"`
}

// Failures are the checks that did not pass.
func (g Gate) Failures() []GateCheck {
	var out []GateCheck
	for _, c := range g.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// Compare applies thresholds to run, and to run against baseline when
// there is one. It fails when the pass rate is below min_pass_rate, a
// metric is below its min_metrics floor, the pass rate fell more than
// max_pass_rate_drop below the baseline's, or a metric regressed beyond
// its max_metric_drop (a metric the baseline measured and the run did
// not counts as regressed). Checks come in a stable order.
func Compare(run, baseline *Result, th Thresholds) Gate {
	var g Gate
	add := func(c GateCheck) { g.Checks = append(g.Checks, c) }
	cur := run.Metrics
	pr := cur.PassRate
	add(GateCheck{Metric: "pass_rate", Current: &pr, Allowed: th.MinPassRate, Passed: pr >= th.MinPassRate-epsilon, Rule: "min_pass_rate"})
	for _, name := range slices.Sorted(maps.Keys(th.MinMetrics)) {
		info, ok := metricInfo[name]
		if !ok {
			continue
		}
		v := info.get(cur)
		floor := th.MinMetrics[name]
		add(GateCheck{Metric: name, Current: v, Allowed: floor, Passed: v != nil && *v >= floor-epsilon, Rule: "min_metrics"})
	}
	if baseline != nil {
		base := baseline.Metrics
		bpr := base.PassRate
		allowed := bpr - th.MaxPassRateDrop
		add(GateCheck{Metric: "pass_rate", Baseline: &bpr, Current: &pr, Allowed: allowed, Passed: pr >= allowed-epsilon,
			Rule: fmt.Sprintf("max_pass_rate_drop %g", th.MaxPassRateDrop)})
		for _, name := range slices.Sorted(maps.Keys(th.MaxMetricDrop)) {
			info, ok := metricInfo[name]
			if !ok {
				continue
			}
			b, v := info.get(base), info.get(cur)
			if b == nil {
				continue // the baseline did not measure it: nothing to regress from
			}
			a := th.MaxMetricDrop[name]
			slack := a.Abs
			if a.Relative {
				slack = a.Abs * *b
			}
			c := GateCheck{Metric: name, Baseline: b, Current: v, Rule: "max_metric_drop " + a.String()}
			if info.lowerBetter {
				c.Allowed = *b + slack
				c.Passed = v != nil && *v <= c.Allowed+epsilon
			} else {
				c.Allowed = *b - slack
				c.Passed = v != nil && *v >= c.Allowed-epsilon
			}
			add(c)
		}
	}
	g.Passed = true
	for _, c := range g.Checks {
		g.Passed = g.Passed && c.Passed
	}
	return g
}

// epsilon absorbs floating-point noise in means (0.1+0.2 is not 0.3).
const epsilon = 1e-9
