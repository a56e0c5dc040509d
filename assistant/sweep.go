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

// StaleAfter is how long after it began a running record is certainly
// not a live call's: a call ends within Config.Timeout, and its record is
// completed within recordTimeout after; a minute more allows for clocks.
// Servers sharing a database should share the timeout, or the shortest
// one's sweep may mark failed a longer call that is still running (whose
// completion then still stores its answer).
func (s *Service) StaleAfter() time.Duration {
	return s.cfg.Timeout + recordTimeout + time.Minute
}

// SweepInterrupted marks failed, in every tenant, the records still
// running olderThan after they began: calls whose server stopped (a crash,
// a kill, a lost machine) before it could complete them. Each gets the
// error InterruptedError and a generation.fail audit entry, in the same
// transaction. It returns how many it marked.
func (s *Service) SweepInterrupted(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan < 0 {
		return 0, fmt.Errorf("sweep: negative age %s", olderThan)
	}
	tenants, err := audit.Tenants(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	swept := 0
	var errs []error
	for _, t := range tenants {
		n, err := s.sweepTenant(ctx, t.ID, olderThan)
		swept += n
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep tenant %s: %w", t.Slug, err))
		}
	}
	return swept, errors.Join(errs...)
}

func (s *Service) sweepTenant(ctx context.Context, tenant uuid.UUID, olderThan time.Duration) (int, error) {
	type stale struct {
		ID        uuid.UUID
		Task      string
		RequestID string
	}
	var found []stale
	err := store.InTenant(ctx, s.db, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE generations SET status = 'failed', error = $2
			WHERE tenant_id = $1 AND status = 'running' AND created_at < now() - make_interval(secs => $3)
			RETURNING id, task, request_id`, tenant, InterruptedError, olderThan.Seconds())
		if err != nil {
			return err
		}
		if found, err = pgx.CollectRows(rows, pgx.RowToStructByPos[stale]); err != nil {
			return err
		}
		for _, g := range found {
			if _, err := audit.Append(ctx, tx, tenant, audit.Event{
				Actor: "system", ActorRole: "system", Action: "generation.fail", Subject: g.ID.String(),
				Details: map[string]any{"task": g.Task, "error": InterruptedError, "request_id": g.RequestID},
			}); err != nil {
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

// RunSweeper sweeps interrupted calls (older than StaleAfter) now and then
// every interval, until ctx ends. A failed sweep is logged and tried
// again at the next tick.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultSweepEvery
	}
	sweep := func() {
		n, err := s.SweepInterrupted(ctx, s.StaleAfter())
		if n > 0 {
			s.log.Warn("marked interrupted calls failed", "generations", n, "older_than", s.StaleAfter().String())
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
