package feedback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/store"
)

// Dimensions statistics can be grouped by.
var Dimensions = []string{"task", "prompt_version", "model", "region", "week"}

// dimensionSQL is each dimension's expression over feedback rows.
var dimensionSQL = map[string]string{
	"task":           "task",
	"prompt_version": "task || '@v' || prompt_version",
	"model":          "provider || '/' || model",
	"region":         "COALESCE(NULLIF(array_to_string(regions, ','), ''), '(all)')",
	"week":           "to_char(date_trunc('week', created_at), 'IYYY-\"W\"IW')",
}

// StatsQuery selects and groups feedback for Stats.
type StatsQuery struct {
	// By lists the dimensions to group by, in order; default task and
	// prompt_version.
	By   []string
	Task string
	From *time.Time
	To   *time.Time
}

// Group is the feedback of one group.
type Group struct {
	Key map[string]string `json:"key"`
	// Feedback is how many verdicts the group has.
	Feedback      int `json:"feedback"`
	Accepted      int `json:"accepted"`
	Edited        int `json:"edited"`
	LightlyEdited int `json:"lightly_edited"`
	Rejected      int `json:"rejected"`
	// AdoptionRate is the share accepted or lightly edited (edit ratio
	// at most LightEdit); CorrectionRate the share edited or rejected.
	AdoptionRate   float64        `json:"adoption_rate"`
	CorrectionRate float64        `json:"correction_rate"`
	MeanEditRatio  float64        `json:"mean_edit_ratio"`
	Reasons        map[string]int `json:"reasons"`
}

// Stats is feedback aggregated by the query's dimensions.
type Stats struct {
	By     []string `json:"by"`
	Groups []Group  `json:"groups"`
	Total  Group    `json:"total"`
}

// Stats aggregates the feedback visible in scope.
func (s *Service) Stats(ctx context.Context, scope store.Scope, q StatsQuery) (Stats, error) {
	if len(q.By) == 0 {
		q.By = []string{"task", "prompt_version"}
	}
	var exprs []string
	for _, d := range q.By {
		e, ok := dimensionSQL[d]
		if !ok {
			return Stats{}, &FieldError{"by", fmt.Sprintf("%q is not one of %s", d, strings.Join(Dimensions, ", "))}
		}
		if slices.Contains(exprs, e) {
			return Stats{}, &FieldError{"by", "names " + d + " twice"}
		}
		exprs = append(exprs, e)
	}
	where, args := []string{"true"}, []any{LightEdit}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Task != "" {
		add("task = $%d", q.Task)
	}
	if q.From != nil {
		add("created_at >= $%d", *q.From)
	}
	if q.To != nil {
		add("created_at < $%d", *q.To)
	}
	keys := make([]string, len(exprs))
	for i, e := range exprs {
		keys[i] = fmt.Sprintf("(%s) AS k%d", e, i)
	}
	sql := fmt.Sprintf(`
		WITH f AS (SELECT %s, verdict, edit_ratio, reasons FROM feedback WHERE %s)
		SELECT %s,
			count(*), count(*) FILTER (WHERE verdict = 'accepted'), count(*) FILTER (WHERE verdict = 'edited'),
			count(*) FILTER (WHERE verdict = 'edited' AND edit_ratio <= $1), count(*) FILTER (WHERE verdict = 'rejected'),
			COALESCE(avg(edit_ratio) FILTER (WHERE verdict = 'edited'), 0),
			COALESCE((SELECT jsonb_object_agg(r, n) FROM (SELECT r, count(*) AS n FROM f AS g, unnest(g.reasons) AS r
				WHERE %s GROUP BY r) AS counts), '{}')
		FROM f GROUP BY GROUPING SETS ((%s), ()) ORDER BY %s`,
		strings.Join(keys, ", "), strings.Join(where, " AND "),
		columnList(len(exprs), "k%d"), sameGroup(len(exprs)), columnList(len(exprs), "k%d"),
		columnList(len(exprs), "k%d NULLS FIRST"))
	out := Stats{By: q.By, Groups: []Group{}}
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			keyVals := make([]*string, len(exprs))
			var g Group
			dest := make([]any, 0, len(exprs)+7)
			for i := range keyVals {
				dest = append(dest, &keyVals[i])
			}
			dest = append(dest, &g.Feedback, &g.Accepted, &g.Edited, &g.LightlyEdited, &g.Rejected, &g.MeanEditRatio, &g.Reasons)
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			g.finish()
			if keyVals[0] == nil { // the grand total row of GROUPING SETS
				out.Total = g
				continue
			}
			g.Key = map[string]string{}
			for i, d := range q.By {
				g.Key[d] = *keyVals[i]
			}
			out.Groups = append(out.Groups, g)
		}
		return rows.Err()
	})
	if out.Total.Reasons == nil {
		out.Total.Reasons = map[string]int{}
	}
	return out, err
}

func (g *Group) finish() {
	if g.Reasons == nil {
		g.Reasons = map[string]int{}
	}
	if g.Feedback > 0 {
		g.AdoptionRate = float64(g.Accepted+g.LightlyEdited) / float64(g.Feedback)
		g.CorrectionRate = float64(g.Edited+g.Rejected) / float64(g.Feedback)
	}
}

func columnList(n int, format string) string {
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(cols, ", ")
}

// sameGroup matches the reasons subquery's rows to the outer group; for
// the total row (all keys NULL) it matches every row.
func sameGroup(n int) string {
	conds := make([]string, n)
	for i := range conds {
		conds[i] = fmt.Sprintf("g.k%[1]d IS NOT DISTINCT FROM COALESCE(f.k%[1]d, g.k%[1]d)", i)
	}
	return strings.Join(conds, " AND ")
}

// Promote turns an accepted or edited answer into a playbook document of
// the knowledge base, with its provenance in the metadata: the rep's
// correction when there is one, else the answer. The text stays masked:
// personal data of one deal does not belong in shared playbooks.
func (s *Service) Promote(ctx context.Context, scope store.Scope, id uuid.UUID, ks *knowledge.Store, title string) (knowledge.Result, error) {
	var fb Feedback
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id, generation_id, rep_id, verdict, field, original_text, corrected_text, task,
				prompt_version, provider, model, regions FROM feedback WHERE id = $1`, id).
			Scan(&fb.ID, &fb.GenerationID, &fb.RepID, &fb.Verdict, &fb.Field, &fb.OriginalText, &fb.CorrectedText,
				&fb.Task, &fb.PromptVersion, &fb.Provider, &fb.Model, &fb.Regions)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return knowledge.Result{}, fmt.Errorf("feedback %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return knowledge.Result{}, err
	}
	if fb.Verdict == Rejected {
		return knowledge.Result{}, fmt.Errorf("%w: a rejected answer cannot become a playbook", ErrConflict)
	}
	text := fb.CorrectedText
	if fb.Verdict == Accepted {
		text = fb.OriginalText
	}
	if strings.TrimSpace(text) == "" {
		return knowledge.Result{}, fmt.Errorf("%w: the feedback has no text to promote", ErrConflict)
	}
	if title == "" {
		title = fmt.Sprintf("Playbook from %s feedback %s", fb.Task, fb.ID.String()[:8])
	}
	region := ""
	if len(fb.Regions) == 1 {
		region = fb.Regions[0]
	}
	res, err := ks.Ingest(ctx, scope.Tenant, knowledge.Input{
		Name: "feedback/" + fb.ID.String() + ".md",
		Data: []byte(text),
		Meta: knowledge.Metadata{Kind: knowledge.KindPlaybook, Title: title, Region: region, Tags: []string{"from-feedback", fb.Task},
			Extra: map[string]any{"provenance": map[string]any{
				"feedback_id": fb.ID.String(), "generation_id": fb.GenerationID.String(), "verdict": fb.Verdict,
				"rep_id": fb.RepID, "prompt": fmt.Sprintf("%s@v%d", fb.Task, fb.PromptVersion),
				"model": fb.Provider + "/" + fb.Model, "promoted_by": scope.Actor(),
			}}},
	}, nil)
	if err != nil {
		return knowledge.Result{}, err
	}
	err = store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE feedback SET promoted_document_id = $2 WHERE id = $1`, id, res.DocumentID); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, scope.Tenant, audit.Event{Actor: scope.Actor(), ActorRole: scope.Role,
			Action: "feedback.promote", Subject: fb.GenerationID.String(),
			Details: map[string]any{"feedback_id": fb.ID.String(), "document_id": res.DocumentID.String(), "title": title}})
		return err
	})
	return res, err
}
