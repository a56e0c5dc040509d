package scoring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
)

// Searcher finds similar won deals in the knowledge base.
type Searcher interface {
	Search(ctx context.Context, q retrieval.Query) (retrieval.Result, error)
}

// Config tunes the service. Zero values take the defaults.
type Config struct {
	// Train are the options of every training, automatic or not.
	Train TrainOptions
	// AutoRetrain retrains in the background when enough new outcomes
	// arrived (see RetrainDue). Off by default in tools that train
	// explicitly; the server switches it on.
	AutoRetrain bool
	// RetrainTimeout bounds one background training (default 10m).
	RetrainTimeout time.Duration
	// SimilarDeals is how many won deals a score cites (default 3).
	SimilarDeals int
	// Now is the clock (tests).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service stores opportunities, trains models and scores.
type Service struct {
	db     *pgxpool.Pool
	search Searcher
	cfg    Config
	log    *slog.Logger

	mu       sync.Mutex
	cache    map[uuid.UUID]*Model
	training map[uuid.UUID]bool
	wg       sync.WaitGroup
}

// NewService builds the scoring service. search may be nil (no similar
// deals).
func NewService(db *pgxpool.Pool, search Searcher, cfg Config) *Service {
	if cfg.RetrainTimeout <= 0 {
		cfg.RetrainTimeout = 10 * time.Minute
	}
	if cfg.SimilarDeals <= 0 {
		cfg.SimilarDeals = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{db: db, search: search, cfg: cfg, log: cfg.Logger, cache: map[uuid.UUID]*Model{}, training: map[uuid.UUID]bool{}}
}

// Upsert validates and stores opportunities (matched on external id). The
// first invalid one fails the call with a FieldError naming it.
func (s *Service) Upsert(ctx context.Context, sc store.Scope, opps []Opportunity) (UpsertResult, error) {
	for i := range opps {
		if err := opps[i].Normalize(true); err != nil {
			var fe *FieldError
			if len(opps) > 1 && errors.As(err, &fe) {
				return UpsertResult{}, &FieldError{Field: fmt.Sprintf("opportunities[%d].%s", i, fe.Field), Reason: fe.Reason}
			}
			return UpsertResult{}, err
		}
		if !inScope(sc, opps[i].Region) {
			return UpsertResult{}, invalid("region", "%q is outside this key's regions (%s)", opps[i].Region, strings.Join(sc.Regions, ", "))
		}
	}
	res, err := s.upsert(ctx, sc, opps, len(opps) == 1)
	if err != nil {
		return res, err
	}
	if res.Closed > 0 && s.cfg.AutoRetrain {
		s.RetrainInBackground(sc.Tenant)
	}
	return res, nil
}

// ImportResult is what a CSV import did.
type ImportResult struct {
	ReadResult
	UpsertResult
	Imported int `json:"imported"`
}

// Import reads a CSV export and upserts its good rows; bad rows are
// reported, never fatal. progress, when set, is called after each batch
// with the rows written so far.
func (s *Service) Import(ctx context.Context, sc store.Scope, r io.Reader, opt ReadOptions, progress func(done, total int)) (*ImportResult, error) {
	rr, err := ReadCSV(r, opt)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{ReadResult: *rr}
	good := rr.Opportunities[:0:0]
	for _, o := range rr.Opportunities {
		if !inScope(sc, o.Region) {
			res.Errors = append(res.Errors, RowError{ExternalID: o.ExternalID, Field: "region", Error: fmt.Sprintf("region %q is outside this key's regions", o.Region)})
			continue
		}
		good = append(good, o)
	}
	for start := 0; start < len(good); start += upsertBatch {
		chunk := good[start:min(len(good), start+upsertBatch)]
		u, err := s.upsert(ctx, sc, chunk, false)
		if err != nil {
			return res, fmt.Errorf("import: after %d rows: %w", res.Imported, err)
		}
		res.Created += u.Created
		res.Updated += u.Updated
		res.Closed += u.Closed
		res.Imported += len(chunk)
		if progress != nil {
			progress(res.Imported, len(good))
		}
	}
	res.Opportunities = nil
	if res.Errors == nil {
		res.Errors = []RowError{}
	}
	if res.Closed > 0 && s.cfg.AutoRetrain {
		s.RetrainInBackground(sc.Tenant)
	}
	return res, nil
}

// Train fits a new model version on the tenant's history and activates
// it (the cold-start rules when the history is too short).
func (s *Service) Train(ctx context.Context, tenant uuid.UUID, opt TrainOptions, by string) (*Model, error) {
	if opt.MinOutcomes == 0 {
		opt.MinOutcomes = s.cfg.Train.MinOutcomes
	}
	if opt.Exclude == nil {
		opt.Exclude = s.cfg.Train.Exclude
	}
	if opt.Now.IsZero() {
		opt.Now = s.cfg.Now()
	}
	opps, err := s.history(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m, err := Train(opps, opt)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.saveModel(ctx, tenant, m, by); err != nil {
		return nil, fmt.Errorf("train: save: %w", err)
	}
	return m, nil
}

// RetrainDue reports whether enough outcomes arrived since the active model
// to train again: no fitted model yet and the history reaches
// MinOutcomes, or new outcomes reach max(50, 20% of those the model was
// trained on).
func (s *Service) RetrainDue(ctx context.Context, tenant uuid.UUID) (bool, error) {
	active, err := s.ActiveModel(ctx, tenant)
	if err != nil {
		return false, err
	}
	total, since, err := s.closedSince(ctx, tenant, active.TrainedAt)
	if err != nil {
		return false, err
	}
	minOutcomes := s.cfg.Train.MinOutcomes
	if minOutcomes <= 0 {
		minOutcomes = 200
	}
	if active.Method == MethodRules {
		return total >= minOutcomes && (active.Version == 0 || since > 0), nil
	}
	return since >= max(50, active.TrainedOn/5), nil
}

// RetrainInBackground trains the tenant's model in the background when
// RetrainDue says so; at most one training runs per tenant.
func (s *Service) RetrainInBackground(tenant uuid.UUID) {
	s.mu.Lock()
	if s.training[tenant] {
		s.mu.Unlock()
		return
	}
	s.training[tenant] = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.training, tenant)
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RetrainTimeout)
		defer cancel()
		due, err := s.RetrainDue(ctx, tenant)
		if err != nil || !due {
			if err != nil {
				s.log.Warn("scoring: retrain check failed", slog.String("tenant", tenant.String()), slog.Any("error", err))
			}
			return
		}
		m, err := s.Train(ctx, tenant, TrainOptions{}, "auto")
		if err != nil {
			s.log.Warn("scoring: automatic retraining failed", slog.String("tenant", tenant.String()), slog.Any("error", err))
			return
		}
		s.log.Info("scoring: retrained", slog.String("tenant", tenant.String()), slog.Int("version", m.Version), slog.String("method", m.Method))
	}()
}

// Wait blocks until background trainings end (shutdown, tests).
func (s *Service) Wait() { s.wg.Wait() }
