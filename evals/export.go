package evals

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/store"
)

// ExportOptions select the feedback ExportFeedback turns into cases.
type ExportOptions struct {
	Tenant uuid.UUID
	// Task, when set, keeps only that task's feedback.
	Task string
	// Since, when set, keeps only feedback given on or after it.
	Since *time.Time
	// Models provide the embedder that measures how far each correction
	// is from the answer it corrected; nil leaves similarity checks out.
	Models *providers.Models
	// Name names the suite (default "feedback-regressions").
	Name string
}

// ExportFeedback turns reps' corrections into a regression suite: every
// edited or rejected generation becomes a case with the request it
// answered (masked, as stored) and checks that encode the correction:
//
//   - edited: the corrected field must come closer to the rep's version
//     than the corrected answer was (similarity with the embedder, at
//     least halfway from the old score to 1);
//   - rejected: the field must not be (nearly) the rejected text again;
//   - every case: citations must be valid, and with the reasons
//     hallucinated_source and pii, at least one citation and no personal
//     data.
//
// The suite's gate is relative: it fails when a prompt version passes
// fewer of these cases than the baseline run, so run it with a baseline
// (eval run --baseline). The text stays masked: placeholders such as
// ⟦PHONE_1⟧ stand for the personal data of the original request.
func ExportFeedback(ctx context.Context, db store.Beginner, opts ExportOptions) (*Suite, []byte, error) {
	type row struct {
		feedbackID, generationID uuid.UUID
		task, verdict, field     string
		original, corrected      string
		reasons                  []string
		input                    []byte
		createdAt                time.Time
	}
	var rows []row
	err := store.InTenant(ctx, db, opts.Tenant, func(tx pgx.Tx) error {
		where, args := []string{"f.verdict IN ('edited', 'rejected')"}, []any{}
		if opts.Task != "" {
			args = append(args, opts.Task)
			where = append(where, fmt.Sprintf("f.task = $%d", len(args)))
		}
		if opts.Since != nil {
			args = append(args, *opts.Since)
			where = append(where, fmt.Sprintf("f.updated_at >= $%d", len(args)))
		}
		rs, err := tx.Query(ctx, `
			SELECT f.id, f.generation_id, f.task, f.verdict, f.field, f.original_text, f.corrected_text, f.reasons, g.input, f.updated_at
			FROM feedback f JOIN generations g ON g.id = f.generation_id
			WHERE `+strings.Join(where, " AND ")+` ORDER BY f.updated_at, f.id`, args...)
		if err != nil {
			return err
		}
		var r row
		_, err = pgx.ForEachRow(rs, []any{&r.feedbackID, &r.generationID, &r.task, &r.verdict, &r.field, &r.original,
			&r.corrected, &r.reasons, &r.input, &r.createdAt}, func() error {
			rows = append(rows, r)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read feedback: %w", err)
	}
	name := opts.Name
	if name == "" {
		name = "feedback-regressions"
	}
	s := &Suite{
		Name:        name,
		Description: fmt.Sprintf("Regression cases from %d rep corrections (edited and rejected answers), exported %s.", len(rows), time.Now().UTC().Format(time.DateOnly)),
		Thresholds:  Thresholds{MaxPassRateDrop: 0},
	}
	seen := map[uuid.UUID]bool{}
	for _, r := range rows {
		// Several reps may have judged one generation: one case each.
		input, err := requestOf(r.task, r.input)
		if err != nil {
			return nil, nil, fmt.Errorf("feedback %s: %w", r.feedbackID, err)
		}
		c := Case{
			ID:    "fb-" + r.feedbackID.String()[:8],
			Task:  r.task,
			Input: input,
		}
		if seen[r.generationID] {
			c.ID += "-" + r.verdict
		}
		seen[r.generationID] = true
		c.Assert = append(c.Assert, Assertion{Type: AssertCitationsValid})
		if slices.Contains(r.reasons, "hallucinated_source") {
			c.Assert[0].MinCited = 1
		}
		if slices.Contains(r.reasons, "pii") {
			c.Assert = append(c.Assert, Assertion{Type: AssertNoPII})
		}
		if a, ok := correctionCheck(ctx, opts.Models, r.verdict, r.field, r.original, r.corrected); ok {
			c.Assert = append(c.Assert, a)
		}
		s.Cases = append(s.Cases, c)
	}
	raw, err := marshalSuite(s)
	if err != nil {
		return nil, nil, err
	}
	// What is written must read back: the export is checked like any
	// hand-written suite.
	parsed, err := Parse(raw, name)
	if err != nil {
		return nil, nil, fmt.Errorf("exported suite does not parse: %w", err)
	}
	return parsed, raw, nil
}

// correctionCheck is the similarity check a correction becomes.
func correctionCheck(ctx context.Context, m *providers.Models, verdict, field, original, corrected string) (Assertion, bool) {
	if m == nil || m.Embedder == nil || strings.TrimSpace(original) == "" {
		return Assertion{}, false
	}
	switch verdict {
	case "edited":
		if strings.TrimSpace(corrected) == "" {
			return Assertion{}, false
		}
		old, err := similarity(ctx, m, original, corrected)
		if err != nil {
			return Assertion{}, false
		}
		// Halfway from the old answer's score to a perfect match.
		minSim := round3(old + (1-old)/2)
		return Assertion{Type: AssertSimilarity, Path: field, Reference: corrected, Min: &minSim}, true
	case "rejected":
		maxSim := 0.95
		return Assertion{Type: AssertSimilarity, Path: field, Reference: original, Max: &maxSim}, true
	}
	return Assertion{}, false
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// requestOf turns a stored generation input (the task's prompt input,
// sources included) into the task's request body.
func requestOf(task string, stored []byte) (map[string]any, error) {
	var in map[string]any
	if err := json.Unmarshal(stored, &in); err != nil {
		return nil, err
	}
	delete(in, "sources")
	for k, v := range in {
		if v == nil || v == "" {
			delete(in, k)
		}
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if _, err := assistant.DecodeRequest(task, raw); err != nil {
		return nil, err
	}
	return in, nil
}

// marshalSuite writes a suite as YAML with its cases in order.
func marshalSuite(s *Suite) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# Generated by `dealdesk eval export-feedback` from reps' corrections.\n")
	b.WriteString("# Run it against a baseline: dealdesk eval run THIS_FILE --baseline RUN_ID\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
