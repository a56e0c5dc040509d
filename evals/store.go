package evals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/store"
)

// ErrNotFound means no run with that id is visible in the tenant.
var ErrNotFound = errors.New("eval run not found")

// Store keeps runs in the eval_runs table, per tenant (row-level
// security).
type Store struct {
	db *pgxpool.Pool
}

// NewStore returns a Store.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Save inserts a run or, when it exists, replaces its state: a run is
// saved once as running and again when it ends.
func (s *Store) Save(ctx context.Context, r *Result) error {
	metrics, err := json.Marshal(r.Metrics)
	if err != nil {
		return err
	}
	results, err := json.Marshal(r.Results)
	if err != nil {
		return err
	}
	thresholds, err := json.Marshal(r.Thresholds)
	if err != nil {
		return err
	}
	var gate []byte
	if r.Gate != nil {
		if gate, err = json.Marshal(r.Gate); err != nil {
			return err
		}
	}
	var passRate *float64
	if r.Status != StatusRunning {
		passRate = &r.PassRate
	}
	return store.InTenant(ctx, s.db, r.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO eval_runs (id, tenant_id, suite, suite_digest, tasks, prompt_version, prompt_versions, provider, model,
				status, error, pass_rate, metrics, results, thresholds, baseline_run_id, gate, created_by, started_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
			ON CONFLICT (id) DO UPDATE SET prompt_versions = EXCLUDED.prompt_versions, status = EXCLUDED.status,
				error = EXCLUDED.error, pass_rate = EXCLUDED.pass_rate, metrics = EXCLUDED.metrics, results = EXCLUDED.results,
				baseline_run_id = EXCLUDED.baseline_run_id, gate = EXCLUDED.gate, finished_at = EXCLUDED.finished_at`,
			r.ID, r.TenantID, r.Suite, r.SuiteDigest, r.Tasks, r.PromptVersion, r.PromptVersions, r.Provider, r.Model,
			r.Status, r.Error, passRate, metrics, results, thresholds, r.BaselineRunID, gate, r.CreatedBy, r.StartedAt, r.FinishedAt)
		return err
	})
}

const runColumns = `id, tenant_id, suite, suite_digest, tasks, prompt_version, prompt_versions, provider, model, status, error,
	COALESCE(pass_rate, 0), metrics, results, thresholds, baseline_run_id, gate, created_by, started_at, finished_at`

func scanRun(row pgx.Row, withResults bool) (*Result, error) {
	var (
		r                                  Result
		metrics, results, thresholds, gate []byte
	)
	err := row.Scan(&r.ID, &r.TenantID, &r.Suite, &r.SuiteDigest, &r.Tasks, &r.PromptVersion, &r.PromptVersions, &r.Provider,
		&r.Model, &r.Status, &r.Error, &r.PassRate, &metrics, &results, &thresholds, &r.BaselineRunID, &gate, &r.CreatedBy,
		&r.StartedAt, &r.FinishedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(metrics, &r.Metrics); err != nil {
		return nil, fmt.Errorf("run %s metrics: %w", r.ID, err)
	}
	if err := json.Unmarshal(thresholds, &r.Thresholds); err != nil {
		return nil, fmt.Errorf("run %s thresholds: %w", r.ID, err)
	}
	r.Results = []CaseResult{}
	if withResults {
		if err := json.Unmarshal(results, &r.Results); err != nil {
			return nil, fmt.Errorf("run %s results: %w", r.ID, err)
		}
	}
	if gate != nil {
		r.Gate = &Gate{}
		if err := json.Unmarshal(gate, r.Gate); err != nil {
			return nil, fmt.Errorf("run %s gate: %w", r.ID, err)
		}
	}
	if r.FinishedAt != nil {
		r.Duration = r.FinishedAt.Sub(r.StartedAt)
	}
	return &r, nil
}

// Get returns one run of the tenant with its case results.
func (s *Store) Get(ctx context.Context, tenant, id uuid.UUID) (*Result, error) {
	var r *Result
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		var err error
		r, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM eval_runs WHERE id = $1`, id), true)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return r, err
}

// ListFilter narrows List.
type ListFilter struct {
	Suite string // only this suite
	Limit int    // default 50
}

// List returns the tenant's runs, newest first, without case results.
func (s *Store) List(ctx context.Context, tenant uuid.UUID, f ListFilter) ([]*Result, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []*Result
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+runColumns+` FROM eval_runs
			WHERE $1 = '' OR suite = $1 ORDER BY started_at DESC, id LIMIT $2`, f.Suite, f.Limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRun(rows, false)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// ReadRunFile reads runs exported with `dealdesk eval run --json`: one
// run, or a list of them.
func ReadRunFile(path string) ([]*Result, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var list []*Result
	if err := json.Unmarshal(raw, &list); err != nil {
		var one Result
		if err1 := json.Unmarshal(raw, &one); err1 != nil || one.Suite == "" {
			return nil, fmt.Errorf("baseline %s: not a run exported with --json: %v", path, err)
		}
		list = []*Result{&one}
	}
	return list, nil
}

// Service runs suites and keeps their runs: the CLI runs in the
// foreground, the API in the background.
type Service struct {
	deps    Deps
	store   *Store
	timeout time.Duration
	log     *slog.Logger
	// running counts background runs, so that Wait returns when they end.
	running sync.WaitGroup
}

// NewService returns a Service. timeout bounds a background run (default
// 30 minutes).
func NewService(deps Deps, db *pgxpool.Pool, timeout time.Duration, log *slog.Logger) *Service {
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{deps: deps, store: NewStore(db), timeout: timeout, log: log}
}

// Store returns where the service keeps runs.
func (s *Service) Store() *Store { return s.store }

// Execute runs suite, stores the run (as running first, then finished)
// and returns it.
func (s *Service) Execute(ctx context.Context, suite *Suite, opts Options) (*Result, error) {
	if opts.ID == uuid.Nil {
		opts.ID = uuid.New()
	}
	pending := newRun(suite, opts, s.deps.Models.Info)
	if err := s.store.Save(ctx, pending); err != nil {
		return nil, fmt.Errorf("store run: %w", err)
	}
	r, err := Run(ctx, s.deps, suite, opts)
	if r == nil {
		pending.Status, pending.Error = StatusError, err.Error()
		r = pending
	}
	if serr := s.store.Save(context.WithoutCancel(ctx), r); serr != nil {
		return r, errors.Join(err, fmt.Errorf("store run: %w", serr))
	}
	return r, err
}

// Start stores a running run and executes it in the background, detached
// from ctx (a request's) but bounded by the service's timeout. The
// returned run is the pending record; read the outcome with Store().Get.
func (s *Service) Start(ctx context.Context, suite *Suite, opts Options) (*Result, error) {
	if opts.ID == uuid.Nil {
		opts.ID = uuid.New()
	}
	pending := newRun(suite, opts, s.deps.Models.Info)
	if err := s.store.Save(ctx, pending); err != nil {
		return nil, fmt.Errorf("store run: %w", err)
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	s.running.Go(func() {
		defer cancel()
		r, err := Run(bg, s.deps, suite, opts)
		if r == nil {
			pending.Status, pending.Error = StatusError, err.Error()
			r = pending
		}
		// A run that timed out is still saved, as an error with its
		// partial results.
		save, done := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer done()
		if err := s.store.Save(save, r); err != nil {
			s.log.Error("store eval run", "run_id", r.ID, "suite", r.Suite, "err", err)
			return
		}
		s.log.Info("eval run finished", "run_id", r.ID, "suite", r.Suite, "status", r.Status, "pass_rate", r.PassRate)
	})
	return pending, nil
}

// Wait blocks until the background runs started so far have ended.
func (s *Service) Wait() { s.running.Wait() }
