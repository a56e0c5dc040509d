package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dealdesk/dealdesk/store"
)

// JobStatus is where an ingest job is.
type JobStatus string

// Job statuses.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
)

// Job is an ingestion queued through the API, with its progress.
type Job struct {
	ID          uuid.UUID  `json:"id"`
	Status      JobStatus  `json:"status"`
	Stage       string     `json:"stage"`
	FileName    string     `json:"file_name"`
	DocumentID  *uuid.UUID `json:"document_id"`
	ChunksTotal int        `json:"chunks_total"`
	ChunksDone  int        `json:"chunks_done"`
	// Progress is ChunksDone/ChunksTotal, 1 when the job succeeded.
	Progress   float64    `json:"progress"`
	Result     *Result    `json:"result,omitempty"`
	Error      string     `json:"error,omitempty"`
	ErrorCode  string     `json:"error_code,omitempty"`
	Attempts   int        `json:"attempts"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Queue is the Postgres-backed ingestion queue. Any replica can enqueue and
// any replica's workers can run the jobs; FOR UPDATE SKIP LOCKED hands each
// job to one worker, and a job whose worker died is retried after its lease.
type Queue struct {
	db    *pgxpool.Pool
	store *Store
	log   *slog.Logger
	// Poll is how often idle workers look for jobs (default 1s); jobs
	// enqueued by this process wake them at once.
	Poll time.Duration
	// Lease is how long a running job stays claimed (default 10m).
	Lease time.Duration
	// MaxAttempts bounds retries of a job whose worker died (default 3).
	MaxAttempts int
	wake        chan struct{}
}

// NewQueue returns a queue that ingests with s.
func NewQueue(db *pgxpool.Pool, s *Store, logger *slog.Logger) *Queue {
	if logger == nil {
		logger = slog.Default()
	}
	return &Queue{db: db, store: s, log: logger, Poll: time.Second, Lease: 10 * time.Minute, MaxAttempts: 3, wake: make(chan struct{}, 1)}
}

// Enqueue stores an upload as a job. The caller has already checked that
// the file parses (Store.Validate), so failures here are about the
// database; the job's document id is known now.
func (q *Queue) Enqueue(ctx context.Context, tenant uuid.UUID, in Input, createdBy string) (Job, error) {
	source := in.Meta.Source
	if source == "" {
		source = in.Name
	}
	docID, err := q.store.DocumentIDFor(ctx, tenant, source)
	if err != nil {
		return Job{}, err
	}
	if docID == uuid.Nil {
		docID = uuid.New()
	}
	req, err := json.Marshal(in.Meta)
	if err != nil {
		return Job{}, fmt.Errorf("encode job metadata: %w", err)
	}
	j := Job{ID: uuid.New(), Status: JobQueued, Stage: "queued", FileName: in.Name, DocumentID: &docID, CreatedBy: createdBy}
	err = store.InTenant(ctx, q.db, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO ingest_jobs (id, tenant_id, file_name, payload, request, document_id, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at`,
			j.ID, tenant, in.Name, in.Data, req, docID, createdBy).Scan(&j.CreatedAt)
	})
	if err != nil {
		return Job{}, fmt.Errorf("enqueue %s: %w", in.Name, err)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return j, nil
}

// Get returns a job of the tenant.
func (q *Queue) Get(ctx context.Context, tenant, id uuid.UUID) (Job, error) {
	var j Job
	err := store.InTenant(ctx, q.db, tenant, func(tx pgx.Tx) error {
		var result []byte
		var errText, errCode *string
		err := tx.QueryRow(ctx, `SELECT id, status, stage, file_name, document_id, chunks_total, chunks_done, result,
				error, error_code, attempts, created_by, created_at, started_at, finished_at
			FROM ingest_jobs WHERE id = $1`, id).
			Scan(&j.ID, &j.Status, &j.Stage, &j.FileName, &j.DocumentID, &j.ChunksTotal, &j.ChunksDone, &result,
				&errText, &errCode, &j.Attempts, &j.CreatedBy, &j.CreatedAt, &j.StartedAt, &j.FinishedAt)
		if err != nil {
			return err
		}
		if result != nil {
			j.Result = &Result{}
			if err := json.Unmarshal(result, j.Result); err != nil {
				return err
			}
		}
		if errText != nil {
			j.Error = *errText
		}
		if errCode != nil {
			j.ErrorCode = *errCode
		}
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, fmt.Errorf("ingest job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("get ingest job: %w", err)
	}
	switch {
	case j.Status == JobSucceeded:
		j.Progress = 1
	case j.ChunksTotal > 0:
		j.Progress = float64(j.ChunksDone) / float64(j.ChunksTotal)
	}
	return j, nil
}

// Run works the queue with n workers until ctx is cancelled.
func (q *Queue) Run(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range max(1, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				worked, err := q.RunOne(ctx)
				if err != nil && ctx.Err() == nil {
					q.log.Error("ingest worker", slog.Any("error", err))
				}
				if worked {
					continue
				}
				select {
				case <-ctx.Done():
				case <-q.wake:
				case <-time.After(q.Poll):
				}
			}
		}()
	}
	wg.Wait()
}

type claimed struct {
	id, tenant uuid.UUID
	docID      uuid.UUID
	name       string
	payload    []byte
	request    []byte
	attempts   int
}

// RunOne claims and processes one job; it reports whether there was one.
func (q *Queue) RunOne(ctx context.Context) (bool, error) {
	var c claimed
	err := store.WithSetting(ctx, q.db, "app.worker", "on", func(tx pgx.Tx) error {
		// Jobs that ran out of attempts fail for good.
		if _, err := tx.Exec(ctx, `UPDATE ingest_jobs SET status = 'failed', stage = 'failed', payload = NULL,
				error = 'the worker processing this job stopped ' || attempts || ' times', error_code = 'worker_lost', finished_at = now()
			WHERE status = 'running' AND locked_until < now() AND attempts >= $1`, q.MaxAttempts); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			UPDATE ingest_jobs SET status = 'running', stage = 'parsing', attempts = attempts + 1,
				started_at = COALESCE(started_at, now()), locked_until = now() + $1::interval
			WHERE id = (
				SELECT id FROM ingest_jobs
				WHERE status = 'queued' OR (status = 'running' AND locked_until < now())
				ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
			RETURNING id, tenant_id, document_id, file_name, payload, request, attempts`,
			fmt.Sprintf("%d seconds", int(q.Lease.Seconds()))).
			Scan(&c.id, &c.tenant, &c.docID, &c.name, &c.payload, &c.request, &c.attempts)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim ingest job: %w", err)
	}
	q.process(ctx, c)
	return true, nil
}

func (q *Queue) process(ctx context.Context, c claimed) {
	log := q.log.With(slog.String("job_id", c.id.String()), slog.String("file", c.name))
	in := Input{Name: c.name, Data: c.payload, DocumentID: c.docID}
	if err := json.Unmarshal(c.request, &in.Meta); err != nil {
		q.finish(ctx, c, nil, fmt.Errorf("decode job metadata: %w", err))
		return
	}
	var last time.Time
	progress := func(stage string, done, total int) {
		// At most a few writes a second, plus every stage change.
		if stage == "embedding" && done != total && time.Since(last) < 250*time.Millisecond {
			return
		}
		last = time.Now()
		err := store.InTenant(ctx, q.db, c.tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE ingest_jobs SET stage = $2, chunks_done = $3, chunks_total = $4 WHERE id = $1`,
				c.id, stage, done, total)
			return err
		})
		if err != nil {
			log.Warn("ingest progress", slog.Any("error", err))
		}
	}
	start := time.Now()
	res, err := q.store.Ingest(ctx, c.tenant, in, progress)
	q.finish(ctx, c, &res, err)
	if err != nil {
		log.Warn("ingest job failed", slog.Any("error", err))
		return
	}
	log.Info("ingest job done", slog.String("outcome", string(res.Outcome)), slog.Int("chunks", res.Chunks),
		slog.Duration("took", time.Since(start)))
}

func (q *Queue) finish(ctx context.Context, c claimed, res *Result, jobErr error) {
	ctx = context.WithoutCancel(ctx)
	err := store.InTenant(ctx, q.db, c.tenant, func(tx pgx.Tx) error {
		if jobErr != nil {
			_, err := tx.Exec(ctx, `UPDATE ingest_jobs SET status = 'failed', stage = 'failed', payload = NULL,
				error = $2, error_code = $3, finished_at = now(), locked_until = NULL WHERE id = $1`,
				c.id, jobErr.Error(), ErrorCode(jobErr))
			return err
		}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE ingest_jobs SET status = 'succeeded', stage = 'done', payload = NULL, result = $2,
			document_id = $3, chunks_total = $4, chunks_done = $4, finished_at = now(), locked_until = NULL WHERE id = $1`,
			c.id, b, res.DocumentID, res.Chunks)
		return err
	})
	if err != nil {
		q.log.Error("record ingest job result", slog.String("job_id", c.id.String()), slog.Any("error", err))
	}
}

// ErrorCode maps an ingestion error to the stable code the API reports.
func ErrorCode(err error) string {
	switch {
	case errors.Is(err, ErrUnsupportedType):
		return "unsupported_file_type"
	case errors.Is(err, ErrEmpty):
		return "empty_file"
	case errors.Is(err, ErrCorrupt):
		return "corrupt_file"
	case errors.Is(err, ErrTooLarge):
		return "file_too_large"
	case errors.Is(err, ErrNoTextLayer):
		return "no_text_layer"
	case errors.Is(err, ErrInvalidMetadata):
		return "invalid_metadata"
	}
	return "ingest_failed"
}
