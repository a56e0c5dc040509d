package evals

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// suiteOf200 cycles the bundled suites' cases (each with its suite's
// default assertions) into one suite of 200.
func suiteOf200(tb testing.TB) *Suite {
	tb.Helper()
	var pool []Case
	for _, name := range Bundled() {
		s, err := Load(name)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range s.Cases {
			c.Assert = append(slices.Clone(s.Defaults.Assert), c.Assert...)
			pool = append(pool, c)
		}
	}
	big := &Suite{Name: "bench200", Digest: "bench", Thresholds: Thresholds{MinPassRate: 1}}
	for i := range 200 {
		c := pool[i%len(pool)]
		c.ID = fmt.Sprintf("%s-%03d", c.ID, i)
		big.Cases = append(big.Cases, c)
	}
	return big
}

// BenchmarkEvalSuite200 checks the requirement "an eval suite of 200
// cases with the offline provider completes in under 60 s": it runs 200
// cases (every bundled case, cycled) against the demo knowledge base at
// the CLI's default concurrency and reports the wall time of a whole
// suite as s/suite.
func BenchmarkEvalSuite200(b *testing.B) {
	e := demoDB(b)
	s := suiteOf200(b)
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		r, err := Run(ctx, e.deps, s, Options{Tenant: e.tenant, Concurrency: 4})
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if r.Metrics.Cases != 200 || r.Status != StatusPassed {
			b.Fatalf("run of 200: %d cases, status %s, pass rate %.2f", r.Metrics.Cases, r.Status, r.PassRate)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/suite")
}
