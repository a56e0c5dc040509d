package scoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/store"
)

const oppColumns = `id, external_id, name, customer, stage, amount, currency, region, industry, customer_size, product_line,
	competitors, source, owner, days_in_stage, emails, calls, meetings, last_activity_at, outcome, open_date, close_date, fields,
	competitors_changed_at, created_at, updated_at`

type storedOpportunity struct {
	Opportunity
	competitorsChangedAt *time.Time
}

// scanOpportunity scans oppColumns, then extra columns into extra.
func scanOpportunity(r pgx.Row, extra ...any) (storedOpportunity, error) {
	var o storedOpportunity
	var open, closeD *time.Time
	var fields []byte
	err := r.Scan(append([]any{&o.ID, &o.ExternalID, &o.Name, &o.Customer, &o.Stage, &o.Amount, &o.Currency, &o.Region, &o.Industry,
		&o.CustomerSize, &o.ProductLine, &o.Competitors, &o.Source, &o.Owner, &o.DaysInStage, &o.Emails, &o.Calls, &o.Meetings,
		&o.LastActivityAt, &o.Outcome, &open, &closeD, &fields, &o.competitorsChangedAt, &o.CreatedAt, &o.UpdatedAt}, extra...)...)
	if err != nil {
		return o, err
	}
	if open != nil {
		o.OpenDate = open.Format(time.DateOnly)
	}
	if closeD != nil {
		o.CloseDate = closeD.Format(time.DateOnly)
	}
	if len(fields) > 2 {
		if err := json.Unmarshal(fields, &o.Fields); err != nil {
			return o, fmt.Errorf("opportunity %s fields: %w", o.ExternalID, err)
		}
	}
	return o, nil
}

// UpsertResult counts what an upsert did.
type UpsertResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	// Closed is how many opportunities got an outcome they did not have.
	Closed int `json:"closed"`
	// Stored are the stored rows (only for single upserts).
	Stored []Opportunity `json:"-"`
}

// upsertBatch bounds the rows written per statement batch.
const upsertBatch = 500

func nullDate(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// upsert writes normalised opportunities in the caller's scope, matching on
// external id. A caller restricted to regions can only write those.
func (s *Service) upsert(ctx context.Context, sc store.Scope, opps []Opportunity, returnRows bool) (UpsertResult, error) {
	var res UpsertResult
	for start := 0; start < len(opps); start += upsertBatch {
		chunk := opps[start:min(len(opps), start+upsertBatch)]
		err := store.InScope(ctx, s.db, sc, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for i := range chunk {
				o := &chunk[i]
				fields, err := json.Marshal(o.Fields)
				if err != nil {
					return err
				}
				if o.Fields == nil {
					fields = []byte("{}")
				}
				comps := o.Competitors
				if comps == nil {
					comps = []string{}
				}
				b.Queue(`
INSERT INTO opportunities AS o (id, tenant_id, external_id, name, customer, stage, amount, currency, region, industry, customer_size,
	product_line, competitors, source, owner, days_in_stage, emails, calls, meetings, last_activity_at, outcome, open_date, close_date,
	fields, outcome_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22::date, $23::date, $24,
	CASE WHEN $21 <> 'open' THEN now() END)
ON CONFLICT (tenant_id, external_id) DO UPDATE SET
	name = EXCLUDED.name, customer = EXCLUDED.customer, stage = EXCLUDED.stage, amount = EXCLUDED.amount,
	currency = EXCLUDED.currency, region = EXCLUDED.region, industry = EXCLUDED.industry,
	customer_size = EXCLUDED.customer_size, product_line = EXCLUDED.product_line, competitors = EXCLUDED.competitors,
	source = EXCLUDED.source, owner = EXCLUDED.owner, days_in_stage = EXCLUDED.days_in_stage, emails = EXCLUDED.emails,
	calls = EXCLUDED.calls, meetings = EXCLUDED.meetings, last_activity_at = EXCLUDED.last_activity_at,
	outcome = EXCLUDED.outcome, open_date = EXCLUDED.open_date, close_date = EXCLUDED.close_date, fields = EXCLUDED.fields,
	outcome_at = CASE WHEN EXCLUDED.outcome = 'open' THEN NULL
	                  WHEN o.outcome = EXCLUDED.outcome THEN o.outcome_at ELSE now() END,
	competitors_changed_at = CASE WHEN NOT (EXCLUDED.competitors <@ o.competitors) THEN now() ELSE o.competitors_changed_at END,
	updated_at = now()
RETURNING `+oppColumns+`, (xmax = 0) AS inserted, (outcome <> 'open' AND outcome_at >= now()) AS newly_closed`,
					uuid.New(), sc.Tenant, o.ExternalID, o.Name, o.Customer, o.Stage, o.Amount, o.Currency, o.Region, o.Industry,
					o.CustomerSize, o.ProductLine, comps, o.Source, o.Owner, o.DaysInStage, o.Emails, o.Calls, o.Meetings,
					o.LastActivityAt, o.Outcome, nullDate(o.OpenDate), nullDate(o.CloseDate), fields)
			}
			br := tx.SendBatch(ctx, b)
			defer br.Close()
			for range chunk {
				var inserted, closed bool
				so, err := scanOpportunity(br.QueryRow(), &inserted, &closed)
				if err != nil {
					return fmt.Errorf("upsert opportunity: %w", err)
				}
				if inserted {
					res.Created++
				} else {
					res.Updated++
				}
				if closed {
					res.Closed++
				}
				if returnRows {
					res.Stored = append(res.Stored, so.Opportunity)
				}
			}
			return br.Close()
		})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// loadByExternalID returns the stored opportunities with these external
// ids that the caller can see, by id.
func (s *Service) loadByExternalID(ctx context.Context, sc store.Scope, ids []string) (map[string]storedOpportunity, error) {
	out := map[string]storedOpportunity{}
	err := store.InScope(ctx, s.db, sc, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+oppColumns+` FROM opportunities WHERE external_id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			o, err := scanOpportunity(rows)
			if err != nil {
				return err
			}
			out[o.ExternalID] = o
		}
		return rows.Err()
	})
	return out, err
}

// history loads every opportunity of the tenant (training sees them all,
// whatever region).
func (s *Service) history(ctx context.Context, tenant uuid.UUID) ([]*Opportunity, error) {
	var out []*Opportunity
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+oppColumns+` FROM opportunities ORDER BY external_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			o, err := scanOpportunity(rows)
			if err != nil {
				return err
			}
			out = append(out, &o.Opportunity)
		}
		return rows.Err()
	})
	return out, err
}

// saveModel stores m as the tenant's next version and makes it active.
func (s *Service) saveModel(ctx context.Context, tenant uuid.UUID, m *Model, by string) error {
	return store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		// One writer of versions per tenant at a time.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('scoring:' || $1))`, tenant.String()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM scoring_models`).Scan(&m.Version); err != nil {
			return err
		}
		rep := m.Report
		m.Report = nil
		params, err := json.Marshal(m)
		m.Report = rep
		if err != nil {
			return err
		}
		metrics, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		var features any = []any{}
		if m.Encoder != nil {
			features = m.Encoder.describe()
		}
		feat, _ := json.Marshal(features)
		cal, _ := json.Marshal(m.Platt)
		if _, err := tx.Exec(ctx, `UPDATE scoring_models SET active = false WHERE active`); err != nil {
			return err
		}
		m.Active = true
		// trained_at is the database's clock, the one outcome_at uses:
		// automatic retraining compares the two.
		_, err = tx.Exec(ctx, `INSERT INTO scoring_models (tenant_id, version, method, features, params, calibration, metrics, trained_on_count, trained_at, trained_by, active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9, true)`, tenant, m.Version, m.Method, feat, params, cal, metrics, m.TrainedOn, by)
		return err
	})
}

// ModelInfo is a stored model version without its parameters.
type ModelInfo struct {
	Version   int       `json:"version"`
	Method    string    `json:"method"`
	Active    bool      `json:"active"`
	TrainedAt time.Time `json:"trained_at"`
	TrainedOn int       `json:"trained_on"`
	TrainedBy string    `json:"trained_by,omitempty"`
	Features  []any     `json:"features"`
	Metrics   *Report   `json:"metrics"`
}

// Models lists a tenant's model versions, newest first.
func (s *Service) Models(ctx context.Context, tenant uuid.UUID) ([]ModelInfo, error) {
	var out []ModelInfo
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT version, method, active, trained_at, trained_on_count, trained_by, features, metrics
FROM scoring_models ORDER BY version DESC`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var mi ModelInfo
			var feat, met []byte
			if err := rows.Scan(&mi.Version, &mi.Method, &mi.Active, &mi.TrainedAt, &mi.TrainedOn, &mi.TrainedBy, &feat, &met); err != nil {
				return err
			}
			_ = json.Unmarshal(feat, &mi.Features)
			_ = json.Unmarshal(met, &mi.Metrics)
			out = append(out, mi)
		}
		return rows.Err()
	})
	return out, err
}

// ActiveModel describes the model that scores the tenant's opportunities:
// the active version, or version 0 (the built-in cold-start rules) when
// none was trained.
func (s *Service) ActiveModel(ctx context.Context, tenant uuid.UUID) (ModelInfo, error) {
	ms, err := s.Models(ctx, tenant)
	if err != nil {
		return ModelInfo{}, err
	}
	for _, m := range ms {
		if m.Active {
			return m, nil
		}
	}
	return ModelInfo{Version: 0, Method: MethodRules, Active: true, Features: []any{},
		Metrics: &Report{Split: "none", Note: "no model trained yet: the built-in cold-start rules score"}}, nil
}

// model loads the active model (cached per tenant and version).
func (s *Service) model(ctx context.Context, tenant uuid.UUID) (*Model, error) {
	var version int
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT version FROM scoring_models WHERE active`).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if version == 0 {
		return rulesModel(map[string]float64{}), nil
	}
	s.mu.Lock()
	if m, ok := s.cache[tenant]; ok && m.Version == version {
		s.mu.Unlock()
		return m, nil
	}
	s.mu.Unlock()
	var m Model
	err = store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		var params, metrics []byte
		if err := tx.QueryRow(ctx, `SELECT params, metrics FROM scoring_models WHERE version = $1`, version).Scan(&params, &metrics); err != nil {
			return err
		}
		if err := json.Unmarshal(params, &m); err != nil {
			return fmt.Errorf("model v%d: %w", version, err)
		}
		return json.Unmarshal(metrics, &m.Report)
	})
	if err != nil {
		return nil, err
	}
	m.Version = version
	s.mu.Lock()
	s.cache[tenant] = &m
	s.mu.Unlock()
	return &m, nil
}

// saveScores records computed scores. (COPY is not allowed on tables with
// row-level security, so the rows go in as arrays.)
func (s *Service) saveScores(ctx context.Context, sc store.Scope, scores []Score, opps []*Opportunity, by string) error {
	n := len(scores)
	oids, ext, regions, methods, bands := make([]*uuid.UUID, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	versions, probs := make([]int32, n), make([]float64, n)
	factors, risks := make([]string, n), make([]string, n)
	for i, r := range scores {
		f, _ := json.Marshal(map[string]any{"for": r.FactorsFor, "against": r.FactorsAgainst, "base_probability": r.BaseProbability})
		k, _ := json.Marshal(r.Risk)
		if opps[i].ID != uuid.Nil {
			id := opps[i].ID
			oids[i] = &id
		}
		ext[i], regions[i], methods[i], bands[i] = r.ExternalID, opps[i].Region, r.Model.Method, r.Band
		versions[i], probs[i], factors[i], risks[i] = int32(r.Model.Version), r.Probability, string(f), string(k)
	}
	at := s.cfg.Now()
	if n > 0 {
		at = scores[0].ScoredAt
	}
	return store.InScope(ctx, s.db, sc, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO opportunity_scores (tenant_id, opportunity_id, external_id, region, model_version, method,
	probability, band, factors, risk, scored_by, scored_at)
SELECT $1, u.oid, u.ext, u.region, u.version, u.method, u.prob, u.band, u.factors::jsonb, u.risk::jsonb, $2, $3
FROM unnest($4::uuid[], $5::text[], $6::text[], $7::int[], $8::text[], $9::float8[], $10::text[], $11::text[], $12::text[])
	AS u(oid, ext, region, version, method, prob, band, factors, risk)`,
			sc.Tenant, by, at, oids, ext, regions, versions, methods, probs, bands, factors, risks)
		return err
	})
}

// ScoreRecord is a stored score.
type ScoreRecord struct {
	ExternalID   string    `json:"external_id"`
	ModelVersion int       `json:"model_version"`
	Method       string    `json:"method"`
	Probability  float64   `json:"probability"`
	Band         string    `json:"band"`
	ScoredAt     time.Time `json:"scored_at"`
}

// ScoreHistory lists the scores recorded for an opportunity, newest first.
func (s *Service) ScoreHistory(ctx context.Context, sc store.Scope, externalID string) ([]ScoreRecord, error) {
	var out []ScoreRecord
	err := store.InScope(ctx, s.db, sc, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT external_id, model_version, method, probability, band, scored_at FROM opportunity_scores
WHERE external_id = $1 ORDER BY scored_at DESC, id DESC`, externalID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r ScoreRecord
			if err := rows.Scan(&r.ExternalID, &r.ModelVersion, &r.Method, &r.Probability, &r.Band, &r.ScoredAt); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// closedSince counts the tenant's closed opportunities, and those whose
// outcome arrived after t.
func (s *Service) closedSince(ctx context.Context, tenant uuid.UUID, t time.Time) (total, since int, err error) {
	err = store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE outcome_at > $1) FROM opportunities WHERE outcome <> 'open'`, t).Scan(&total, &since)
	})
	return total, since, err
}

func inScope(sc store.Scope, region string) bool {
	if sc.Role == "" || sc.Role == "admin" || len(sc.Regions) == 0 || region == "" {
		return true
	}
	return slices.Contains(sc.Regions, region)
}
