// Package feedback records what reps do with the assistant's answers:
// accept them, edit them, or reject them with reasons. Every record keeps
// the correction (masked, like the generation it corrects), how far it is
// from the original (edit distance and the changed spans) and the
// generation's task, prompt version, model and regions, so that adoption
// can be measured per prompt version (Stats), good answers can become
// playbooks (Promote), and corrections can become eval cases.
package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/store"
)

// Verdicts.
const (
	Accepted = "accepted"
	Edited   = "edited"
	Rejected = "rejected"
)

// Verdicts lists the verdicts; Reasons the reason tags.
var (
	Verdicts = []string{Accepted, Edited, Rejected}
	Reasons  = []string{"wrong_fact", "wrong_tone", "missing_info", "hallucinated_source", "pii", "other"}
)

// LightEdit is the edit ratio up to which an edited answer still counts as
// adopted: the rep kept at least 80% of it.
const LightEdit = 0.2

// Limits on what a rep may send, in characters.
const (
	maxCorrected = 20_000
	maxComment   = 2_000
	maxRepID     = 200
)

var (
	// ErrInvalid marks feedback the caller must fix.
	ErrInvalid = errors.New("invalid feedback")
	// ErrNotFound means the generation (or feedback) is not visible to the
	// caller.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request contradicts the record's state.
	ErrConflict = errors.New("conflict")
)

// FieldError is an invalid field of an Input; it wraps ErrInvalid.
type FieldError struct{ Field, Reason string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Input is one rep's verdict on one generation.
type Input struct {
	GenerationID uuid.UUID `json:"generation_id"`
	Verdict      string    `json:"verdict" doc:"accepted, edited or rejected"`
	// CorrectedText is the rep's version of Field (required when edited).
	CorrectedText string `json:"corrected_text,omitempty" doc:"the rep's version of the answer (required when edited)"`
	// Field is the JSON Pointer of the output that CorrectedText replaces;
	// default: the task's main text (an email's subject and body, ...).
	Field   string   `json:"field,omitempty" doc:"JSON Pointer of the output the correction replaces, e.g. /body; default: the task's main text"`
	Reasons []string `json:"reasons,omitempty" doc:"wrong_fact, wrong_tone, missing_info, hallucinated_source, pii, other"`
	Comment string   `json:"comment,omitempty"`
	// RepID names the rep (a CRM user id); default: the API key.
	RepID string `json:"rep_id,omitempty" doc:"the rep's CRM user id; default: the API key id"`
}

// Change is one changed span between the original and the correction.
type Change struct {
	// Op is insert, delete or replace.
	Op        string `json:"op"`
	Original  string `json:"original,omitempty"`
	Corrected string `json:"corrected,omitempty"`
	// At is the rune offset of the change in the original text.
	At int `json:"at"`
}

// Feedback is a stored verdict. Texts are masked.
type Feedback struct {
	ID            uuid.UUID `json:"id"`
	GenerationID  uuid.UUID `json:"generation_id"`
	RepID         string    `json:"rep_id"`
	Verdict       string    `json:"verdict"`
	Field         string    `json:"field"`
	OriginalText  string    `json:"original_text"`
	CorrectedText string    `json:"corrected_text"`
	Reasons       []string  `json:"reasons"`
	Comment       string    `json:"comment"`
	// EditDistance is the Levenshtein distance in characters between the
	// original and the correction; EditRatio divides it by the longer
	// text's length (0: unchanged, 1: rewritten).
	EditDistance  int        `json:"edit_distance"`
	EditRatio     float64    `json:"edit_ratio"`
	Changes       []Change   `json:"changes"`
	Task          string     `json:"task"`
	PromptVersion int        `json:"prompt_version"`
	Provider      string     `json:"provider"`
	Model         string     `json:"model"`
	Regions       []string   `json:"regions"`
	PromotedTo    *uuid.UUID `json:"promoted_document_id,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Service stores feedback.
type Service struct {
	db *pgxpool.Pool
}

// NewService returns a Service.
func NewService(db *pgxpool.Pool) *Service { return &Service{db: db} }

// validate checks an Input and fills its defaults.
func (in *Input) validate(scope store.Scope) error {
	if in.GenerationID == uuid.Nil {
		return &FieldError{"generation_id", "is required"}
	}
	if !slices.Contains(Verdicts, in.Verdict) {
		return &FieldError{"verdict", "must be accepted, edited or rejected"}
	}
	for _, r := range in.Reasons {
		if !slices.Contains(Reasons, r) {
			return &FieldError{"reasons", fmt.Sprintf("%q is not one of %s", r, strings.Join(Reasons, ", "))}
		}
	}
	slices.Sort(in.Reasons)
	in.Reasons = slices.Compact(in.Reasons)
	if in.Reasons == nil {
		in.Reasons = []string{}
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"corrected_text", in.CorrectedText, maxCorrected}, {"comment", in.Comment, maxComment}, {"rep_id", in.RepID, maxRepID}} {
		if !utf8.ValidString(f.value) {
			return &FieldError{f.name, "is not valid UTF-8"}
		}
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return &FieldError{f.name, fmt.Sprintf("has %d characters; at most %d", n, f.max)}
		}
	}
	switch {
	case in.Verdict == Edited && strings.TrimSpace(in.CorrectedText) == "":
		return &FieldError{"corrected_text", "is required when the verdict is edited"}
	case in.Verdict == Accepted && in.CorrectedText != "":
		return &FieldError{"corrected_text", "an accepted answer has no correction; send verdict edited"}
	case in.Verdict == Rejected && len(in.Reasons) == 0:
		return &FieldError{"reasons", "say why the answer was rejected"}
	}
	if in.Field != "" && !strings.HasPrefix(in.Field, "/") {
		return &FieldError{"field", "must be a JSON Pointer such as /body"}
	}
	in.RepID = strings.TrimSpace(in.RepID)
	if in.RepID == "" {
		if scope.KeyID == uuid.Nil {
			return &FieldError{"rep_id", "is required without an API key"}
		}
		in.RepID = "key:" + scope.KeyID.String()
	}
	return nil
}

// generation is what feedback needs of the generation it is about.
type generation struct {
	task          string
	status        string
	promptVersion int
	provider      string
	model         string
	regions       []string
	output        map[string]any
}

// Record stores a rep's verdict on a generation the caller can see. The
// same rep giving feedback on the same generation again updates the
// record (created is then false); sending the same feedback twice changes
// nothing. Both are audited.
func (s *Service) Record(ctx context.Context, scope store.Scope, in Input) (fb Feedback, created bool, err error) {
	if err := in.validate(scope); err != nil {
		return Feedback{}, false, err
	}
	err = store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		var g generation
		var output []byte
		err := tx.QueryRow(ctx, `SELECT task, status, prompt_version, provider, model, regions, output FROM generations WHERE id = $1`,
			in.GenerationID).Scan(&g.task, &g.status, &g.promptVersion, &g.provider, &g.model, &g.regions, &output)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("generation %s: %w", in.GenerationID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if g.status != "ok" {
			// "failed", or "running": its answer is not there yet.
			return fmt.Errorf("%w: generation %s is %s; there is no answer to judge", ErrConflict, in.GenerationID, g.status)
		}
		if err := json.Unmarshal(output, &g.output); err != nil {
			return fmt.Errorf("decode generation output: %w", err)
		}
		fb, err = build(in, g)
		if err != nil {
			return err
		}
		var key *uuid.UUID
		if scope.KeyID != uuid.Nil {
			key = &scope.KeyID
		}
		changes, _ := json.Marshal(fb.Changes)
		fb.ID = uuid.New()
		var previous string
		err = tx.QueryRow(ctx, `
			WITH old AS (
				SELECT verdict || '|' || corrected_text || '|' || array_to_string(reasons, ',') || '|' || comment || '|' || field AS state
				FROM feedback WHERE generation_id = $2 AND rep_id = $3
			)
			INSERT INTO feedback (id, tenant_id, generation_id, rep_id, key_id, verdict, field, original_text, corrected_text,
				reasons, comment, edit_distance, edit_ratio, changes, task, prompt_version, provider, model, regions)
			VALUES ($1, dealdesk_tenant(), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
			ON CONFLICT (tenant_id, generation_id, rep_id) DO UPDATE SET
				verdict = EXCLUDED.verdict, field = EXCLUDED.field, original_text = EXCLUDED.original_text,
				corrected_text = EXCLUDED.corrected_text, reasons = EXCLUDED.reasons, comment = EXCLUDED.comment,
				edit_distance = EXCLUDED.edit_distance, edit_ratio = EXCLUDED.edit_ratio, changes = EXCLUDED.changes,
				updated_at = now()
			RETURNING id, created_at, updated_at, promoted_document_id, COALESCE((SELECT state FROM old), '')`,
			fb.ID, in.GenerationID, in.RepID, key, fb.Verdict, fb.Field, fb.OriginalText, fb.CorrectedText,
			fb.Reasons, fb.Comment, fb.EditDistance, fb.EditRatio, changes, g.task, g.promptVersion, g.provider, g.model, g.regions,
		).Scan(&fb.ID, &fb.CreatedAt, &fb.UpdatedAt, &fb.PromotedTo, &previous)
		if err != nil {
			return err
		}
		created = previous == ""
		state := fb.Verdict + "|" + fb.CorrectedText + "|" + strings.Join(fb.Reasons, ",") + "|" + fb.Comment + "|" + fb.Field
		if !created && previous == state {
			return nil // the same feedback again: nothing changed, nothing to audit
		}
		action := "feedback.create"
		if !created {
			action = "feedback.update"
		}
		_, err = audit.Append(ctx, tx, scope.Tenant, audit.Event{
			Actor: scope.Actor(), ActorRole: scope.Role, Action: action, Subject: in.GenerationID.String(),
			Details: map[string]any{"feedback_id": fb.ID.String(), "rep_id": fb.RepID, "verdict": fb.Verdict,
				"reasons": fb.Reasons, "edit_distance": fb.EditDistance},
		})
		return err
	})
	return fb, created, err
}

// build computes a Feedback from an input and its generation.
func build(in Input, g generation) (Feedback, error) {
	field := in.Field
	if field == "" {
		field = mainField(g.task, g.output)
	}
	original, ok := textAt(g.output, field)
	if !ok {
		return Feedback{}, &FieldError{"field", fmt.Sprintf("the %s answer has no %s", g.task, field)}
	}
	m := &trust.Masker{}
	fb := Feedback{
		GenerationID: in.GenerationID, RepID: in.RepID, Verdict: in.Verdict, Field: field, OriginalText: original,
		Reasons: in.Reasons, Comment: m.Mask(in.Comment), Task: g.task, PromptVersion: g.promptVersion,
		Provider: g.provider, Model: g.model, Regions: g.regions, Changes: []Change{},
	}
	if in.Verdict == Edited {
		// The original is stored masked (its placeholders numbered for its
		// own request); the correction is masked now. Placeholders compare
		// by kind, not number.
		fb.CorrectedText = m.Mask(in.CorrectedText)
		fb.EditDistance, fb.Changes = diff(neutral(original), neutral(fb.CorrectedText))
		longest := max(utf8.RuneCountInString(original), utf8.RuneCountInString(fb.CorrectedText))
		if longest > 0 {
			fb.EditRatio = float64(fb.EditDistance) / float64(longest)
		}
	}
	if in.Verdict == Rejected {
		fb.EditRatio = 1
	}
	return fb, nil
}

var placeholderNumber = regexp.MustCompile(`⟦([A-Z_]+?)_\d+⟧`)

// neutral writes every placeholder without its number.
func neutral(s string) string { return placeholderNumber.ReplaceAllString(s, "⟦$1⟧") }

// mainField is the part of a task's answer a rep edits by default.
func mainField(task string, output map[string]any) string {
	switch task {
	case "email_draft":
		return "/body"
	case "meeting_notes":
		return "/summary"
	case "objection":
		if r, ok := output["responses"].([]any); ok && len(r) > 0 {
			return "/responses/0/response"
		}
	}
	return ""
}

// textAt returns the text at a JSON Pointer of output: a string as it
// is, anything else (the whole answer for "") as indented JSON.
func textAt(output map[string]any, pointer string) (string, bool) {
	v, ok := prompts.Lookup(output, pointer)
	if !ok {
		return "", false
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b), err == nil
}
