package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/feedback"
	"github.com/dealdesk/dealdesk/store"
)

// feedbackCommand prints what reps did with the assistant's answers.
func feedbackCommand() boundCommand {
	c, cfg := newCommand("feedback", "stats", "Adoption and correction rates and rejection reasons of a tenant's generations (what GET /v1/feedback/stats returns)", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "demo", "tenant slug")
	by := c.fs.String("by", "task,prompt_version", "group by, comma-separated: "+strings.Join(feedback.Dimensions, ", "))
	task := c.fs.String("task", "", "only this task")
	from := c.fs.String("from", "", "only feedback on or after this day (YYYY-MM-DD)")
	to := c.fs.String("to", "", "only feedback before this day (YYYY-MM-DD)")
	asJSON := c.fs.Bool("json", false, "print the statistics as JSON")
	c.run = func(e *env, args []string) error {
		if len(args) != 1 || args[0] != "stats" {
			return fmt.Errorf("%w: want 'feedback stats'", errUsage)
		}
		q := feedback.StatsQuery{By: strings.Split(*by, ","), Task: *task}
		var err error
		if q.From, err = dayFlag("--from", *from); err != nil {
			return err
		}
		if q.To, err = dayFlag("--to", *to); err != nil {
			return err
		}
		pool, t, err := e.openTenant(false, *tenant)
		if err != nil {
			return err
		}
		defer pool.Close()
		st, err := feedback.NewService(pool).Stats(e.ctx, store.Scope{Tenant: t.ID, Role: string(auth.RoleOps)}, q)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		printStats(e, st)
		return nil
	}
	return c
}

func printStats(e *env, st feedback.Stats) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	header := make([]string, 0, len(st.By)+7)
	for _, d := range st.By {
		header = append(header, strings.ToUpper(d))
	}
	fmt.Fprintln(tw, strings.Join(append(header, "FEEDBACK", "ACCEPTED", "EDITED (LIGHT)", "REJECTED", "ADOPTION", "CORRECTION", "REASONS"), "\t"))
	row := func(key []string, g feedback.Group) {
		cells := append(key,
			fmt.Sprint(g.Feedback), fmt.Sprint(g.Accepted), fmt.Sprintf("%d (%d)", g.Edited, g.LightlyEdited), fmt.Sprint(g.Rejected),
			fmt.Sprintf("%.0f%%", 100*g.AdoptionRate), fmt.Sprintf("%.0f%%", 100*g.CorrectionRate), reasons(g.Reasons))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	for _, g := range st.Groups {
		key := make([]string, len(st.By))
		for i, d := range st.By {
			key[i] = g.Key[d]
		}
		row(key, g)
	}
	total := make([]string, len(st.By))
	total[0] = "total"
	for i := 1; i < len(total); i++ {
		total[i] = ""
	}
	row(total, st.Total)
	_ = tw.Flush()
	fmt.Fprintf(e.stdout, "\nadoption = accepted or lightly edited (edit ratio <= %.0f%%); correction = edited or rejected\n", 100*feedback.LightEdit)
}

func reasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
