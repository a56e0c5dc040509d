package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/scoring"
	"github.com/dealdesk/dealdesk/store"
)

// scoringCommand trains, reports on and applies opportunity scoring models.
func scoringCommand() boundCommand {
	c, cfg := newCommand("scoring", "train|report|score [EXTERNAL_ID]",
		"Train a tenant's win-probability model (validated against a plain logistic baseline), print its metrics, or score an opportunity", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	cfg.bindModels(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "demo", "tenant slug")
	minOutcomes := c.fs.Int("min-outcomes", 200, "train: closed opportunities needed for a fitted model; fewer get the cold-start rules")
	var exclude stringList
	c.fs.Var(&exclude, "exclude", "train: fields never to use, comma-separated patterns (tags,lead_quality,asymmetrique*)")
	split := c.fs.String("split", "auto", "train: held-out split: auto (by close date, else open date, else random), close_date, open_date, random")
	version := c.fs.Int("version", 0, "report: this version (default the active one)")
	asJSON := c.fs.Bool("json", false, "print JSON")
	c.run = func(e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%w: want 'scoring train', 'scoring report' or 'scoring score EXTERNAL_ID'", errUsage)
		}
		action := args[0]
		switch {
		case action == "score" && len(args) != 2:
			return fmt.Errorf("%w: want 'scoring score EXTERNAL_ID'", errUsage)
		case (action == "train" || action == "report") && len(args) != 1:
			return fmt.Errorf("%w: %s takes no arguments", errUsage, action)
		case action != "train" && action != "report" && action != "score":
			return fmt.Errorf("%w: unknown action %q", errUsage, action)
		}
		pool, err := e.openDB(action == "score")
		if err != nil {
			return err
		}
		defer pool.Close()
		t, err := auth.NewService(pool).TenantBySlug(e.ctx, *tenant)
		if err != nil {
			return err
		}
		var search scoring.Searcher
		if action == "score" {
			models, err := providers.New(e.ctx, cfg.Models, e.log)
			if err != nil {
				return err
			}
			search = retrieval.NewSearcher(pool, models.Embedder, cfg.Retrieval)
		}
		svc := scoring.NewService(pool, search, scoring.Config{Logger: e.log})
		out := func(v any) error {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		switch action {
		case "train":
			m, err := svc.Train(e.ctx, t.ID, scoring.TrainOptions{MinOutcomes: *minOutcomes, Exclude: exclude, Split: *split}, "cli")
			if err != nil {
				return err
			}
			if *asJSON {
				return out(map[string]any{"version": m.Version, "method": m.Method, "metrics": m.Report})
			}
			fmt.Fprintf(e.stdout, "model v%d (%s) trained on %d closed opportunities, now active\n", m.Version, m.Method, m.TrainedOn)
			printReport(e.stdout, m.Report)
		case "report":
			ms, err := svc.Models(e.ctx, t.ID)
			if err != nil {
				return err
			}
			var pick *scoring.ModelInfo
			for i := range ms {
				if (*version == 0 && ms[i].Active) || ms[i].Version == *version {
					pick = &ms[i]
					break
				}
			}
			if pick == nil {
				active, err := svc.ActiveModel(e.ctx, t.ID)
				if err != nil {
					return err
				}
				if *version != 0 {
					return fmt.Errorf("tenant %s has no model v%d", *tenant, *version)
				}
				pick = &active
			}
			if *asJSON {
				return out(pick)
			}
			fmt.Fprintf(e.stdout, "model v%d (%s), trained %s on %d closed opportunities", pick.Version, pick.Method,
				pick.TrainedAt.Local().Format("2006-01-02 15:04"), pick.TrainedOn)
			if pick.Active {
				fmt.Fprint(e.stdout, ", active")
			}
			fmt.Fprintf(e.stdout, "; %d versions\n", len(ms))
			printReport(e.stdout, pick.Metrics)
		case "score":
			res, err := svc.Score(e.ctx, store.Scope{Tenant: t.ID, Role: string(auth.RoleOps)}, []scoring.Request{{ExternalID: args[1]}},
				scoring.ScoreOptions{Similar: true, By: "cli"})
			if err != nil {
				return err
			}
			if *asJSON {
				return out(res[0])
			}
			printScore(e.stdout, res[0])
		}
		return nil
	}
	return c
}

func printReport(w io.Writer, r *scoring.Report) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "split: %s; train %d, test %d", r.Split, r.Train, r.Test)
	if r.TestFrom != "" {
		fmt.Fprintf(w, " (test from %s)", r.TestFrom)
	}
	fmt.Fprintln(w)
	if r.Calibration != "" {
		fmt.Fprintf(w, "calibration: %s; penalty lambda %g; %d features, %d columns\n", r.Calibration, r.Lambda, r.Features, r.Columns)
	}
	if len(r.Excluded) > 0 {
		fmt.Fprintf(w, "excluded fields: %s\n", strings.Join(r.Excluded, ", "))
	}
	if r.Note != "" {
		fmt.Fprintln(w, r.Note)
	}
	if r.Model.N == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nMODEL\tN\tWON\tAUC\tBRIER\tLOG LOSS\tECE\t")
	row := func(name string, m *scoring.Metrics) {
		if m != nil {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t\n", name, m.N, m.Positive, m.AUC, m.Brier, m.LogLoss, m.ECE)
		}
	}
	row("model", &r.Model)
	row("uncalibrated", r.Uncalibrated)
	row("baseline", r.Baseline)
	_ = tw.Flush()
	fmt.Fprintln(w, "\ncalibration on the test split (predicted vs observed win rate per probability bin):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "BIN\tN\tPREDICTED\tOBSERVED\t"
	if r.Baseline != nil {
		header += "BASELINE N\tPREDICTED\tOBSERVED\t"
	}
	fmt.Fprintln(tw, header)
	for i, b := range r.Model.Calibration {
		line := fmt.Sprintf("%.1f-%.1f\t%d\t%s\t%s\t", b.Lo, b.Hi, b.Count, pct(b.Count, b.Predicted), pct(b.Count, b.Observed))
		if r.Baseline != nil && i < len(r.Baseline.Calibration) {
			bb := r.Baseline.Calibration[i]
			line += fmt.Sprintf("%d\t%s\t%s\t", bb.Count, pct(bb.Count, bb.Predicted), pct(bb.Count, bb.Observed))
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}

func pct(n int, v float64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func printScore(w io.Writer, s scoring.Score) {
	fmt.Fprintf(w, "%s: %.1f%% (%s), model v%d %s; an average opportunity scores %.1f%%\n", s.ExternalID, 100*s.Probability, s.Band,
		s.Model.Version, s.Model.Method, 100*s.BaseProbability)
	for _, side := range []struct {
		name string
		fs   []scoring.Factor
	}{{"for", s.FactorsFor}, {"against", s.FactorsAgainst}} {
		for _, f := range side.fs {
			fmt.Fprintf(w, "  %-8s %-32s %-20s %+6.1f pts (%+.3f log-odds)\n", side.name, f.Label, f.Value, f.Points, f.Contribution)
		}
	}
	if s.Risk.Flag {
		fmt.Fprintf(w, "risk: %s\n", strings.Join(s.Risk.Reasons, "; "))
	}
	for _, d := range s.SimilarWonDeals {
		fmt.Fprintf(w, "similar won deal [%s] %s\n", d.SourceID, d.Title)
	}
	for _, a := range s.NextActions {
		fmt.Fprintf(w, "next: %s\n", a)
	}
}
