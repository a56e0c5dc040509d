package assistant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/store"
)

// InterruptedError is the error of a record that SweepInterrupted marked
// failed.
const InterruptedError = "interrupted: the call was still running when its server stopped"

// DefaultSweepEvery is how often RunSweeper looks for interrupted calls.
const DefaultSweepEvery = time.Minute

// SweepGrace is how long past its deadline RunSweeper leaves a running
// record before marking it failed: room for clocks that disagree.
const SweepGrace = time.Minute

// StaleAfter is how long after it began a running record written without
// a deadline (before migration 0020) is certainly not a live call's: a
// call ends within Config.Timeout, and its record is completed within
// recordTimeout after.
func (s *Service) StaleAfter() time.Duration {
	return s.cfg.Timeout + recordTimeout
}

// SweepInterrupted marks failed, in every tenant, the records still
// running more than grace past their deadline, the time by which their
// call was certain to have ended (set as the record was inserted, from
// that call's own timeout; for older records without one, created_at plus
// StaleAfter): calls whose server stopped (a crash, a kill, a lost
// machine) before it could complete them. Each gets the error
// InterruptedError and a generation.fail audit entry, in the same
// transaction. Several servers may sweep at once: a record is marked once.
// It returns how many it marked.
func (s *Service) SweepInterrupted(ctx context.Context, grace time.Duration) (int, error) {
	if grace < 0 {
		return 0, fmt.Errorf("sweep: negative grace %s", grace)
	}
	tenants, err := audit.Tenants(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	swept := 0
	var errs []error
	for _, t := range tenants {
		n, err := s.sweepTenant(ctx, t.ID, grace)
		swept += n
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep tenant %s: %w", t.Slug, err))
		}
	}
	return swept, errors.Join(errs...)
}

func (s *Service) sweepTenant(ctx context.Context, tenant uuid.UUID, grace time.Duration) (int, error) {
	type stale struct {
		ID        uuid.UUID
		Task      string
		RequestID string
	}
	var found []stale
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE generations SET status = 'failed', error = $2
			WHERE tenant_id = $1 AND status = 'running'
				AND coalesce(deadline, created_at + make_interval(secs => $4)) < now() - make_interval(secs => $3)
			RETURNING id, task, request_id`, tenant, InterruptedError, grace.Seconds(), s.StaleAfter().Seconds())
		if err != nil {
			return err
		}
		if found, err = pgx.CollectRows(rows, pgx.RowToStructByPos[stale]); err != nil {
			return err
		}
		for _, g := range found {
			if _, err := audit.Append(ctx, tx, tenant, failedEvent("system", "system", g.ID, g.Task, InterruptedError, g.RequestID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(found), nil
}

// RunSweeper sweeps interrupted calls (SweepGrace past their deadline)
// now and then every interval, until ctx ends. A failed sweep is logged
// and tried again at the next tick.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultSweepEvery
	}
	sweep := func() {
		n, err := s.SweepInterrupted(ctx, SweepGrace)
		if n > 0 {
			s.log.Warn("marked interrupted calls failed", "generations", n)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("sweep interrupted calls", "err", err)
		}
	}
	sweep()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweep()
		}
	}
}
