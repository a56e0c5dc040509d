package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/store"
)

// ErrNotFound means no generation with that id is visible to the caller.
var ErrNotFound = errors.New("not found")

// tenantPolicy reads whether the tenant has the task switched on and its
// prompt policy for it, as the caller, in one round trip.
func (s *Service) tenantPolicy(ctx context.Context, scope store.Scope, task string) (prompts.Policy, error) {
	p := prompts.Policy{Name: task}
	var enabled bool
	b, err := store.ScopedBatch(scope)
	if err != nil {
		return p, err
	}
	b.Queue(`
		SELECT COALESCE((t.features->>$2)::boolean, true),
		       COALESCE(p.version, 0), COALESCE(p.candidate, 0), COALESCE(p.candidate_share, 0)
		FROM tenants t LEFT JOIN prompt_policies p ON p.tenant_id = t.id AND p.name = $2
		WHERE t.id = $1`, scope.Tenant, task).QueryRow(func(r pgx.Row) error {
		return r.Scan(&enabled, &p.Version, &p.Candidate, &p.CandidateShare)
	})
	if err := s.db.SendBatch(ctx, b).Close(); err != nil {
		return p, fmt.Errorf("read tenant settings: %w", err)
	}
	if !enabled {
		return p, fmt.Errorf("%w: %s", ErrFeatureDisabled, task)
	}
	return p, nil
}

// recordTimeout bounds writing a generation's record, which goes on after
// the caller has left so that every call that reached the model is
// recorded.
const recordTimeout = 10 * time.Second

// recordDeadline is how long from now the call is certain to have ended,
// its record completed: the rest of the call's time, then recordTimeout.
// The running record keeps it (its deadline), for the sweep.
func (c *call) recordDeadline() time.Duration {
	return time.Until(c.started.Add(c.s.cfg.Timeout)) + recordTimeout
}

// recordContext is ctx without its cancellation, under recordTimeout.
func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// sourcesJSON is the record's sources column: the sources' identities,
// scores and whether the answer cites them (their masked text is in the
// input, as the model saw it).
func sourcesJSON(c *call) ([]byte, error) {
	sources := make([]map[string]any, len(c.gen.Sources))
	for i, src := range c.gen.Sources {
		sources[i] = map[string]any{
			"label": src.Label, "document_id": src.DocumentID, "title": c.masker.Mask(src.Title), "kind": src.Kind,
			"region": src.Region, "source_ids": src.SourceIDs, "score": src.Score, "tokens": src.Tokens, "cited": src.Cited,
		}
	}
	return marshal(sources)
}

// begin returns the function that writes the generation's record as
// status "running", with everything known before the model answers
// (caller, prompt, model, the masked input with its sources, the checks so
// far), and its audit entry, generation.create: the model is being sent
// this tenant's data, so every call that reaches the model is audited, even
// one whose server stops before it ends. Run calls write while the model
// works, so the request waits only for the record's completion (finish),
// and the audit chain's lock (one head row per tenant, which concurrent
// calls queue for) is taken while the model works too. write reads
// nothing the model call changes but the checks, which begin copies now.
func (s *Service) begin(ctx context.Context, c *call) (write func() error) {
	checksSoFar := c.gen.Checks
	return func() error {
		g := c.gen
		input, err := marshal(c.input)
		if err != nil {
			return err
		}
		srcJSON, err := sourcesJSON(c)
		if err != nil {
			return err
		}
		checks, err := marshal(checksSoFar)
		if err != nil {
			return err
		}
		sc := c.caller.Scope
		var createdBy *uuid.UUID
		if sc.KeyID != uuid.Nil {
			createdBy = &sc.KeyID
		}
		regions := sc.Regions
		if regions == nil {
			regions = []string{}
		}
		b, err := store.TenantBatch(sc.Tenant)
		if err != nil {
			return err
		}
		var createdAt time.Time
		b.Queue(`
			INSERT INTO generations (id, tenant_id, task, status, prompt_name, prompt_version, prompt_digest,
				provider, model, offline, created_by, created_by_name, role, regions, request_id,
				input, sources, checks, retrieval_ms, deadline)
			VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
				now() + make_interval(secs => $19))
			RETURNING created_at`,
			g.ID, sc.Tenant, g.Task, c.tmpl.Name, c.tmpl.Version, c.tmpl.Digest,
			g.Model.Provider, g.Model.Name, g.Model.Offline, createdBy, c.caller.Name, sc.Role, regions, c.caller.RequestID,
			input, srcJSON, checks, g.Timings.Retrieval, c.recordDeadline().Seconds(),
		).QueryRow(func(r pgx.Row) error { return r.Scan(&createdAt) })
		if _, err := audit.Queue(b, sc.Tenant, audit.Event{
			Actor: sc.Actor(), ActorRole: sc.Role, Action: "generation.create", Subject: g.ID.String(),
			Details: map[string]any{
				"task": g.Task, "prompt": g.Model.Prompt, "prompt_digest": g.Model.PromptDigest,
				"provider": g.Model.Provider, "model": g.Model.Name, "sources": sourceLabels(g),
				"request_id": c.caller.RequestID,
			},
		}); err != nil {
			return err
		}
		rctx, cancel := recordContext(ctx)
		defer cancel()
		if err := s.db.SendBatch(rctx, b).Close(); err != nil {
			return err
		}
		g.CreatedAt = createdAt
		return nil
	}
}

// finish completes the record begin wrote, as "ok" or, with failure,
// "failed" with the reason. A failure also appends an audit entry,
// generation.fail, in the same round trip and transaction (a batch is one
// implicit transaction): the chain then says which calls ended without an
// answer. Output and raw output are stored masked.
func (s *Service) finish(ctx context.Context, c *call, failure error) error {
	g := c.gen
	status, errText := "ok", ""
	if failure != nil {
		status, errText = "failed", failure.Error()
	}
	srcJSON, err := sourcesJSON(c)
	if err != nil {
		return err
	}
	var output []byte
	if c.masked != nil {
		if output, err = marshal(c.masked); err != nil {
			return err
		}
	}
	checks, err := marshal(g.Checks)
	if err != nil {
		return err
	}
	sc := c.caller.Scope
	b, err := store.TenantBatch(sc.Tenant)
	if err != nil {
		return err
	}
	b.Queue(`
		UPDATE generations SET status = $2, error = $3, output = $4, raw_output = $5, sources = $6, checks = $7,
			repaired = $8, prompt_tokens = $9, completion_tokens = $10, latency_ms = $11, model_ms = $12
		WHERE id = $1`,
		g.ID, status, errText, output, c.raw, srcJSON, checks,
		g.Checks.Repaired, g.Usage.PromptTokens, g.Usage.CompletionTokens, g.Timings.Total, g.Timings.Model,
	).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return fmt.Errorf("generation %s has no record to complete", g.ID)
		}
		return nil
	})
	if failure != nil {
		if _, err := audit.Queue(b, sc.Tenant, failedEvent(sc.Actor(), sc.Role, g.ID, g.Task, errText, c.caller.RequestID)); err != nil {
			return err
		}
	}
	return s.db.SendBatch(ctx, b).Close()
}

// maxAuditErrorTokens bounds a failure's reason in its audit entry (the
// record keeps it whole): a model's error can quote a long response.
const maxAuditErrorTokens = 256

// failedEvent is the audit entry of a call that ended without an answer,
// generation.fail, by actor in role: its task, the reason (bounded by
// maxAuditErrorTokens) and its request id. finish writes it for a call
// that failed, the sweep for a call its server left running.
func failedEvent(actor, role string, id uuid.UUID, task, reason, requestID string) audit.Event {
	return audit.Event{
		Actor: actor, ActorRole: role, Action: "generation.fail", Subject: id.String(),
		Details: map[string]any{"task": task, "error": lang.TruncateTokens(reason, maxAuditErrorTokens), "request_id": requestID},
	}
}

// sourceLabels names the sources sent to the model: label=document id.
func sourceLabels(g *Generation) []string {
	out := []string{}
	for _, s := range g.Sources {
		out = append(out, s.Label+"="+s.DocumentID)
	}
	return out
}

// Record is a stored generation as GET /v1/generations/{id} shows it:
// personal data stays masked.
type Record struct {
	ID               uuid.UUID       `json:"generation_id"`
	Task             string          `json:"task"`
	Status           string          `json:"status"`
	Error            string          `json:"error,omitempty"`
	Prompt           string          `json:"prompt"`
	PromptVersion    int             `json:"prompt_version"`
	PromptDigest     string          `json:"prompt_digest"`
	Provider         string          `json:"provider"`
	Model            string          `json:"model"`
	Offline          bool            `json:"offline"`
	CreatedBy        *uuid.UUID      `json:"created_by"`
	CreatedByName    string          `json:"created_by_name"`
	Role             string          `json:"role"`
	Regions          []string        `json:"regions"`
	RequestID        string          `json:"request_id"`
	Input            json.RawMessage `json:"input"`
	Output           json.RawMessage `json:"output"`
	RawOutput        string          `json:"raw_output"`
	Sources          json.RawMessage `json:"sources"`
	Checks           json.RawMessage `json:"checks"`
	Repaired         bool            `json:"repaired"`
	PromptTokens     int             `json:"prompt_tokens"`
	CompletionTokens int             `json:"completion_tokens"`
	LatencyMS        float64         `json:"latency_ms"`
	RetrievalMS      float64         `json:"retrieval_ms"`
	ModelMS          float64         `json:"model_ms"`
	CreatedAt        time.Time       `json:"created_at"`
	Audit            []audit.Entry   `json:"audit"`
}

// Get returns a generation visible in scope, with its audit trail.
func (s *Service) Get(ctx context.Context, scope store.Scope, id uuid.UUID) (*Record, error) {
	var r Record
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		var output []byte
		err := tx.QueryRow(ctx, `
			SELECT id, task, status, error, prompt_name, prompt_version, prompt_digest, provider, model, offline,
				created_by, created_by_name, role, regions, request_id, input, output, raw_output, sources, checks,
				repaired, prompt_tokens, completion_tokens, latency_ms, retrieval_ms, model_ms, created_at
			FROM generations WHERE id = $1`, id).Scan(
			&r.ID, &r.Task, &r.Status, &r.Error, &r.Prompt, &r.PromptVersion, &r.PromptDigest, &r.Provider, &r.Model, &r.Offline,
			&r.CreatedBy, &r.CreatedByName, &r.Role, &r.Regions, &r.RequestID, &r.Input, &output, &r.RawOutput, &r.Sources, &r.Checks,
			&r.Repaired, &r.PromptTokens, &r.CompletionTokens, &r.LatencyMS, &r.RetrievalMS, &r.ModelMS, &r.CreatedAt)
		if err != nil {
			return err
		}
		r.Output = output
		if output == nil {
			r.Output = json.RawMessage("null")
		}
		r.Prompt = fmt.Sprintf("%s@v%d", r.Prompt, r.PromptVersion)
		r.Audit, err = audit.List(ctx, tx, audit.Filter{Subject: id.String(), Limit: 100})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("generation %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// PromptState is a template name with the tenant's policy for it.
type PromptState struct {
	Name     string             `json:"name"`
	Task     string             `json:"task"`
	Policy   prompts.Policy     `json:"policy"`
	Active   int                `json:"active_version"`
	Versions []prompts.Template `json:"versions"`
}

// Prompts lists every template name with its versions and the tenant's
// policy.
func (s *Service) Prompts(ctx context.Context, tenant uuid.UUID) ([]PromptState, error) {
	policies := map[string]prompts.Policy{}
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT name, version, candidate, candidate_share FROM prompt_policies`)
		if err != nil {
			return err
		}
		var p prompts.Policy
		_, err = pgx.ForEachRow(rows, []any{&p.Name, &p.Version, &p.Candidate, &p.CandidateShare}, func() error {
			policies[p.Name] = p
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []PromptState
	for _, t := range s.registry.List() {
		i := slices.IndexFunc(out, func(p PromptState) bool { return p.Name == t.Name })
		if i < 0 {
			p, ok := policies[t.Name]
			if !ok {
				p = prompts.Policy{Name: t.Name}
			}
			out = append(out, PromptState{Name: t.Name, Task: t.Task, Policy: p})
			i = len(out) - 1
		}
		out[i].Versions = append(out[i].Versions, t)
	}
	for i := range out {
		if t, err := s.registry.Choose(prompts.Policy{Name: out[i].Name, Version: out[i].Policy.Version}, ""); err == nil {
			out[i].Active = t.Version
		}
	}
	return out, nil
}

// SetPolicy stores a tenant's policy for a template, after checking it,
// with an audit entry.
func (s *Service) SetPolicy(ctx context.Context, scope store.Scope, p prompts.Policy) error {
	if err := s.registry.Check(p); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return store.InTenant(ctx, s.db, scope.Tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO prompt_policies (tenant_id, name, version, candidate, candidate_share, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, now(), $6)
			ON CONFLICT (tenant_id, name) DO UPDATE SET version = EXCLUDED.version, candidate = EXCLUDED.candidate,
				candidate_share = EXCLUDED.candidate_share, updated_at = now(), updated_by = EXCLUDED.updated_by`,
			scope.Tenant, p.Name, p.Version, p.Candidate, p.CandidateShare, scope.Actor())
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, scope.Tenant, audit.Event{
			Actor: scope.Actor(), ActorRole: scope.Role, Action: "prompt.activate", Subject: p.Name, Details: p,
		})
		return err
	})
}

// Features returns every task with whether the tenant has it on.
func (s *Service) Features(ctx context.Context, tenant uuid.UUID) (map[string]bool, error) {
	var raw map[string]bool
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT features FROM tenants WHERE id = $1`, tenant).Scan(&raw)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(Tasks))
	for _, t := range Tasks {
		on, set := raw[t]
		out[t] = on || !set
	}
	return out, nil
}

// SetFeatures switches tasks on or off for the tenant, with an audit
// entry. Unknown task names are refused.
func (s *Service) SetFeatures(ctx context.Context, scope store.Scope, set map[string]bool) (map[string]bool, error) {
	for name := range set {
		if !slices.Contains(Tasks, name) {
			return nil, fmt.Errorf("%w: unknown feature %q (known: %v)", ErrInvalidInput, name, Tasks)
		}
	}
	patch, err := marshal(set)
	if err != nil {
		return nil, err
	}
	err = store.InTenant(ctx, s.db, scope.Tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE tenants SET features = features || $2::jsonb WHERE id = $1`, scope.Tenant, patch); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, scope.Tenant, audit.Event{
			Actor: scope.Actor(), ActorRole: scope.Role, Action: "feature.set", Subject: scope.Tenant.String(), Details: set,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Features(ctx, scope.Tenant)
}

// Summary is a generation in a list: enough to find it and give feedback.
type Summary struct {
	ID            uuid.UUID `json:"generation_id"`
	Task          string    `json:"task"`
	Status        string    `json:"status"`
	Error         string    `json:"error,omitempty"` // why a failed call failed
	Prompt        string    `json:"prompt"`
	Provider      string    `json:"provider"`
	Model         string    `json:"model"`
	CreatedByName string    `json:"created_by_name"`
	LatencyMS     float64   `json:"latency_ms"`
	CreatedAt     time.Time `json:"created_at"`
}

// Statuses are a generation record's states: running while its model
// works (or left so by a server that stopped, until the sweep), then ok or
// failed.
var Statuses = []string{"running", "ok", "failed"}

// ListFilter selects generations for List.
type ListFilter struct {
	Task string
	// Status is running, ok or failed (empty: any).
	Status string
	// Before pages: only generations created before this time.
	Before *time.Time
	// Limit is 1-200, default 50.
	Limit int
}

// List returns the generations visible in scope, newest first.
func (s *Service) List(ctx context.Context, scope store.Scope, f ListFilter) ([]Summary, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 200 {
		return nil, &FieldError{"limit", "at most 200"}
	}
	if f.Task != "" && !slices.Contains(Tasks, f.Task) {
		return nil, &FieldError{"task", fmt.Sprintf("unknown task %q", f.Task)}
	}
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		return nil, &FieldError{"status", fmt.Sprintf("must be one of %s", strings.Join(Statuses, ", "))}
	}
	out := []Summary{}
	err := store.InScope(ctx, s.db, scope, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id, task, status, error, prompt_name || '@v' || prompt_version, provider, model, created_by_name, latency_ms, created_at
			FROM generations
			WHERE ($1 = '' OR task = $1) AND ($2::timestamptz IS NULL OR created_at < $2) AND ($4 = '' OR status = $4)
			ORDER BY created_at DESC, id DESC LIMIT $3`, f.Task, f.Before, f.Limit, f.Status)
		if err != nil {
			return err
		}
		var g Summary
		_, err = pgx.ForEachRow(rows, []any{&g.ID, &g.Task, &g.Status, &g.Error, &g.Prompt, &g.Provider, &g.Model, &g.CreatedByName,
			&g.LatencyMS, &g.CreatedAt}, func() error {
			out = append(out, g)
			return nil
		})
		return err
	})
	return out, err
}
