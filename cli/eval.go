package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/evals"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
)

// errGate is what a run that fails its gate returns: exit status 1, the
// CI gate for prompt changes.
var errGate = errors.New("eval gate failed")

// evalCommand runs eval suites and shows stored runs.
func evalCommand() boundCommand {
	c, cfg := newCommand("eval", "run SUITE... | list | show RUN_ID | export-feedback",
		"Run eval suites (bundled names: "+strings.Join(evals.Bundled(), ", ")+"; or YAML files) against a tenant, store the runs and gate on a baseline; list or show stored runs; export reps' corrections as a regression suite", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	cfg.bindModels(c.fs)
	cfg.bindRetrieval(c.fs)
	cfg.bindAssistant(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "demo", "tenant slug whose knowledge base and prompt policies the cases use")
	version := c.fs.Int("prompt-version", 0, "pin every case to this prompt template version (0: the tenant's policy)")
	promptDir := c.fs.String("prompt-dir", "", "load prompt templates from this folder instead of the embedded ones (e.g. prompts/templates of a checkout with a new version)")
	baseline := c.fs.String("baseline", "", "id of a stored run to compare with (one suite)")
	baselineFile := c.fs.String("baseline-file", "", "runs exported with --json to compare with, matched by suite name")
	junit := c.fs.String("junit", "", "write a JUnit XML report to this file ('-' for stdout)")
	report := c.fs.String("report", "", "write a Markdown (.md) or HTML (.html) report to this file")
	jsonOut := c.fs.String("json", "", "write the runs as JSON to this file ('-' for stdout); usable as --baseline-file later")
	concurrency := c.fs.Int("concurrency", 4, "cases run at once")
	quiet := c.fs.Bool("quiet", false, "no progress bar or case table: one line per suite")
	limit := c.fs.Int("limit", 20, "runs shown by 'eval list'")
	out := c.fs.String("out", "-", "export-feedback: write the suite to this file ('-' for stdout)")
	task := c.fs.String("task", "", "export-feedback: only this task's feedback")
	since := c.fs.String("since", "", "export-feedback: only feedback given on or after this day (YYYY-MM-DD)")
	c.run = func(e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%w: want 'eval run SUITE...', 'eval list' or 'eval show RUN_ID'", errUsage)
		}
		switch {
		case args[0] == "run" && len(args) > 1:
			if *baseline != "" && *baselineFile != "" {
				return fmt.Errorf("%w: give --baseline or --baseline-file, not both", errUsage)
			}
			if *baseline != "" && len(args) > 2 {
				return fmt.Errorf("%w: --baseline names one run; with several suites use --baseline-file", errUsage)
			}
			if *version < 0 {
				return fmt.Errorf("%w: --prompt-version must not be negative", errUsage)
			}
			suites := make([]*evals.Suite, 0, len(args)-1)
			for _, name := range args[1:] {
				s, err := evals.Load(name)
				if err != nil {
					return err
				}
				suites = append(suites, s)
			}
			return runEvals(e, cfg, evalRunFlags{tenant: *tenant, version: *version, promptDir: *promptDir, baseline: *baseline,
				baselineFile: *baselineFile, junit: *junit, report: *report, json: *jsonOut, concurrency: *concurrency, quiet: *quiet}, suites)
		case args[0] == "export-feedback" && len(args) == 1:
			return exportFeedback(e, cfg, *tenant, *task, *since, *out)
		case args[0] == "list" && len(args) == 1:
			return listEvals(e, *tenant, *limit)
		case args[0] == "show" && len(args) == 2:
			id, err := uuid.Parse(args[1])
			if err != nil {
				return fmt.Errorf("%w: run id %q is not a UUID (see 'eval list')", errUsage, args[1])
			}
			return showEval(e, *tenant, id, *jsonOut)
		}
		return fmt.Errorf("%w: want 'eval run SUITE...', 'eval list', 'eval show RUN_ID' or 'eval export-feedback'", errUsage)
	}
	return c
}

// exportFeedback writes reps' corrections as a regression suite.
func exportFeedback(e *env, cfg *Config, tenant, task, since, out string) error {
	opts := evals.ExportOptions{Task: task}
	var err error
	if opts.Since, err = dayFlag("--since", since); err != nil {
		return err
	}
	pool, t, err := e.openTenant(true, tenant)
	if err != nil {
		return err
	}
	defer pool.Close()
	opts.Tenant = t.ID
	if opts.Models, err = providers.New(e.ctx, cfg.Models, e.log); err != nil {
		return err
	}
	suite, raw, err := evals.ExportFeedback(e.ctx, pool, opts)
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = e.stdout.Write(raw)
		return err
	}
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %d regression cases to %s; run them with: dealdesk eval run %s --baseline RUN_ID\n", len(suite.Cases), out, out)
	return nil
}

type evalRunFlags struct {
	tenant, promptDir, baseline, baselineFile, junit, report, json string
	version, concurrency                                           int
	quiet                                                          bool
}

// evalDeps builds the assistant as `serve` does, with the templates of
// promptDir when set.
func evalDeps(e *env, cfg *Config, pool *pgxpool.Pool, promptDir string) (evals.Deps, error) {
	models, err := providers.New(e.ctx, cfg.Models, e.log)
	if err != nil {
		return evals.Deps{}, err
	}
	var registry *prompts.Registry
	if promptDir != "" {
		registry, err = prompts.LoadFS(os.DirFS(promptDir))
	} else {
		registry, err = prompts.Load()
	}
	if err != nil {
		return evals.Deps{}, err
	}
	searcher := retrieval.NewSearcher(pool, models.Embedder, cfg.Retrieval)
	tasks := assistant.New(pool, searcher, models, registry, cfg.Assistant, e.log.With("component", "assistant"))
	kstore := knowledge.NewStore(pool, models.Embedder, cfg.knowledgeOptions(e.log, models.Info))
	return evals.Deps{Assistant: tasks, Models: models, Knowledge: kstore}, nil
}

func runEvals(e *env, cfg *Config, f evalRunFlags, suites []*evals.Suite) error {
	pool, t, err := e.openTenant(true, f.tenant)
	if err != nil {
		return err
	}
	defer pool.Close()
	deps, err := evalDeps(e, cfg, pool, f.promptDir)
	if err != nil {
		return err
	}
	svc := evals.NewService(deps, pool, 0, e.log)
	baselines, err := loadBaselines(e, svc, t.ID, f)
	if err != nil {
		return err
	}
	var runs []*evals.Result
	var failed []string
	for _, s := range suites {
		opts := evals.Options{Tenant: t.ID, PromptVersion: f.version, Concurrency: f.concurrency, CreatedBy: "cli:" + currentUser()}
		if b, ok := baselines[s.Name]; ok {
			opts.Baseline = b
		} else if len(baselines) > 0 {
			return fmt.Errorf("no baseline run of suite %s in %s", s.Name, f.baselineFile)
		}
		var bar *progressbar.ProgressBar
		if !f.quiet && isTerminal(e.stderr) {
			bar = progressbar.NewOptions(len(s.Cases), progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription(s.Name),
				progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
			opts.Progress = func(done, _ int) { _ = bar.Set(done) }
		}
		r, err := svc.Execute(e.ctx, s, opts)
		if bar != nil {
			_ = bar.Finish()
		}
		if err != nil {
			return fmt.Errorf("suite %s: %w", s.Name, err)
		}
		runs = append(runs, r)
		if f.quiet {
			fmt.Fprintf(e.stdout, "%s: %s, pass rate %.1f%% (%d/%d), run %s\n", s.Name, strings.ToUpper(r.Status),
				100*r.PassRate, r.Metrics.Passed, r.Metrics.Cases, r.ID)
		} else {
			if err := evals.WriteTable(e.stdout, r); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout)
		}
		if r.Status != evals.StatusPassed {
			failed = append(failed, s.Name)
		}
	}
	if err := writeEvalOutputs(e, f, runs); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", errGate, strings.Join(failed, ", "))
	}
	return nil
}

// loadBaselines returns the baseline run of each suite, by suite name.
func loadBaselines(e *env, svc *evals.Service, tenant uuid.UUID, f evalRunFlags) (map[string]*evals.Result, error) {
	out := map[string]*evals.Result{}
	switch {
	case f.baseline != "":
		id, err := uuid.Parse(f.baseline)
		if err != nil {
			return nil, fmt.Errorf("%w: --baseline %q is not a run id (see 'eval list')", errUsage, f.baseline)
		}
		r, err := svc.Store().Get(e.ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		out[r.Suite] = r
	case f.baselineFile != "":
		runs, err := evals.ReadRunFile(f.baselineFile)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			out[r.Suite] = r
		}
	}
	return out, nil
}

func writeEvalOutputs(e *env, f evalRunFlags, runs []*evals.Result) error {
	outputs := []struct {
		path  string
		write func(io.Writer) error
	}{
		{f.junit, func(w io.Writer) error { return evals.WriteJUnit(w, runs...) }},
		{f.report, func(w io.Writer) error { return evals.WriteReport(w, f.report, runs...) }},
		{f.json, func(w io.Writer) error { return writeRunsJSON(w, runs) }},
	}
	for _, o := range outputs {
		if o.path == "" {
			continue
		}
		if err := writeTo(e, o.path, o.write); err != nil {
			return err
		}
	}
	return nil
}

// writeRunsJSON writes one run as an object, several as a list.
func writeRunsJSON(w io.Writer, runs []*evals.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if len(runs) == 1 {
		return enc.Encode(runs[0])
	}
	return enc.Encode(runs)
}

// writeTo writes to a file, or to stdout for "-".
func writeTo(e *env, path string, write func(io.Writer) error) error {
	if path == "-" {
		return write(e.stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func listEvals(e *env, tenant string, limit int) error {
	pool, t, err := e.openTenant(false, tenant)
	if err != nil {
		return err
	}
	defer pool.Close()
	runs, err := evals.NewStore(pool).List(e.ctx, t.ID, evals.ListFilter{Limit: limit})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSUITE\tSTATUS\tPASS RATE\tCASES\tPROMPTS\tPROVIDER\tSTARTED\tBASELINE")
	for _, r := range runs {
		base := "-"
		if r.BaselineRunID != nil {
			base = r.BaselineRunID.String()[:8]
		}
		prompts := strings.Join(r.PromptVersions, ",")
		if r.PromptVersion > 0 {
			prompts = fmt.Sprintf("v%d pinned: %s", r.PromptVersion, prompts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f%%\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Suite, r.Status, 100*r.PassRate, r.Metrics.Cases,
			prompts, r.Provider, r.StartedAt.Local().Format(time.DateTime), base)
	}
	return tw.Flush()
}

func showEval(e *env, tenant string, id uuid.UUID, jsonOut string) error {
	pool, t, err := e.openTenant(false, tenant)
	if err != nil {
		return err
	}
	defer pool.Close()
	r, err := evals.NewStore(pool).Get(e.ctx, t.ID, id)
	if err != nil {
		return err
	}
	if jsonOut != "" {
		return writeTo(e, jsonOut, func(w io.Writer) error { return writeRunsJSON(w, []*evals.Result{r}) })
	}
	return evals.WriteTable(e.stdout, r)
}
