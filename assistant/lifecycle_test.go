package assistant_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/tmc/langchaingo/llms"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/audit"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/store"
)

// gateModel signals when it is called, then waits for release (or its
// context) and answers, or fails with err.
type gateModel struct {
	answer  string
	err     error
	entered chan struct{}
	release chan struct{}
}

func (m *gateModel) GenerateContent(ctx context.Context, _ []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	close(m.entered)
	select {
	case <-m.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if m.err != nil {
		return nil, m.err
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: m.answer}}}, nil
}

func (m *gateModel) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// TestRecordFollowsTheCall: a generation's record is written while the
// model works (status running, the masked input and sources already there)
// and completed when the call ends: ok with the answer, or failed with the
// reason when the model fails or the caller leaves. The audit entry
// generation.create is written with the running record, since the model
// has the call's data from then on; a failed call adds generation.fail.
func TestRecordFollowsTheCall(t *testing.T) {
	ctx := context.Background()
	d := newDemoDB(t, "lifecycle")
	answer := emailAnswer(t)
	scope := store.Scope{Tenant: d.tenant, Role: "admin"}
	caller := assistant.Caller{Scope: scope, Name: "test"}
	in := prompts.EmailDraftInput{Purpose: "follow_up", Customer: "南京市江宁区数据局", RecipientName: "王建国",
		DealContext: "王总手机 13812345678，跟进专项债审计合规。"}

	// run starts a call with m and returns its generation id once the
	// model has been called, and a channel with Run's result.
	run := func(t *testing.T, ctx context.Context, m *gateModel) (uuid.UUID, chan error) {
		t.Helper()
		svc := d.service(m, "gate")
		ids := make(chan uuid.UUID, 1)
		done := make(chan error, 1)
		go func() {
			_, err := svc.Run(ctx, caller, in, assistant.Options{OnStart: func(g *assistant.Generation) error {
				ids <- g.ID
				return nil
			}})
			done <- err
		}()
		select {
		case <-m.entered:
		case err := <-done:
			t.Fatalf("Run ended before calling the model: %v", err)
		}
		return <-ids, done
	}
	svc := d.service(nil, "")
	// record waits until the record of id has status want.
	record := func(t *testing.T, id uuid.UUID, want string) *assistant.Record {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := svc.Get(ctx, scope, id)
			if err == nil && r.Status == want {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("generation %s: record %+v, err %v; want status %s", id, r, err, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// trail returns the record's audit actions, oldest first, and checks
	// that the first is generation.create naming the sources sent to the
	// model.
	trail := func(t *testing.T, r *assistant.Record) string {
		t.Helper()
		var actions []string
		for i := len(r.Audit) - 1; i >= 0; i-- { // the trail is newest first
			actions = append(actions, r.Audit[i].Action)
		}
		if len(r.Audit) == 0 {
			return ""
		}
		var d struct {
			Sources []string
			Error   string
		}
		first := r.Audit[len(r.Audit)-1]
		if err := json.Unmarshal(first.Details, &d); err != nil {
			t.Fatal(err)
		}
		if first.Action != "generation.create" || len(d.Sources) == 0 {
			t.Fatalf("first audit entry %s %s, want generation.create with the sources", first.Action, first.Details)
		}
		return strings.Join(actions, ",")
	}
	// failReason returns the error of the record's generation.fail entry.
	failReason := func(t *testing.T, r *assistant.Record) string {
		t.Helper()
		if got := trail(t, r); got != "generation.create,generation.fail" {
			t.Fatalf("audit trail %s, want generation.create,generation.fail", got)
		}
		var d struct{ Error string }
		if err := json.Unmarshal(r.Audit[0].Details, &d); err != nil {
			t.Fatal(err)
		}
		return d.Error
	}

	t.Run("ok", func(t *testing.T) {
		m := &gateModel{answer: answer, entered: make(chan struct{}), release: make(chan struct{})}
		id, done := run(t, ctx, m)
		r := record(t, id, "running")
		// Its deadline is the call's timeout (3 minutes by default) and
		// the time to complete the record (10 s) from the call's start.
		var span time.Duration
		err := store.InTenant(ctx, d.db.Pool, d.tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT deadline - created_at FROM generations WHERE id = $1`, id).Scan(&span)
		})
		if err != nil || span < 3*time.Minute || span > 3*time.Minute+10*time.Second {
			t.Fatalf("running record's deadline is %s after its insert (%v), want 3m-3m10s", span, err)
		}
		// The model has this call's data: the audit says so already.
		if got := trail(t, r); got != "generation.create" {
			t.Fatalf("running record's audit trail %q, want generation.create", got)
		}
		if string(r.Output) != "null" || !strings.Contains(string(r.Input), "专项债") ||
			!strings.Contains(string(r.Input), `"sources"`) || strings.Contains(string(r.Input), "13812345678") {
			t.Fatalf("running record: output %s, input %.300s", r.Output, r.Input)
		}
		close(m.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		r = record(t, id, "ok")
		if string(r.Output) == "null" || r.RawOutput == "" || r.LatencyMS <= 0 || r.Error != "" {
			t.Fatalf("completed record: %+v", r)
		}
		if got := trail(t, r); got != "generation.create" {
			t.Fatalf("audit trail %q, want generation.create only", got)
		}
	})

	t.Run("model fails", func(t *testing.T) {
		m := &gateModel{err: errors.New("provider exploded"), entered: make(chan struct{}), release: make(chan struct{})}
		close(m.release)
		id, done := run(t, ctx, m)
		if err := <-done; err == nil || !strings.Contains(err.Error(), "provider exploded") {
			t.Fatalf("Run = %v, want the model's error", err)
		}
		r := record(t, id, "failed")
		if !strings.Contains(r.Error, "provider exploded") || string(r.Output) != "null" {
			t.Fatalf("failed record: error %q, output %s", r.Error, r.Output)
		}
		if reason := failReason(t, r); !strings.Contains(reason, "provider exploded") {
			t.Fatalf("generation.fail reason %q", reason)
		}
	})

	t.Run("caller leaves", func(t *testing.T) {
		m := &gateModel{answer: answer, entered: make(chan struct{}), release: make(chan struct{})}
		cctx, cancel := context.WithCancel(ctx)
		id, done := run(t, cctx, m)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		r := record(t, id, "failed")
		if !strings.Contains(r.Error, "context canceled") {
			t.Fatalf("record error %q", r.Error)
		}
		if reason := failReason(t, r); !strings.Contains(reason, "context canceled") {
			t.Fatalf("generation.fail reason %q", reason)
		}
	})
}

// TestSweepMarksInterruptedCalls: a record left running by a server that
// stopped during the call is marked failed, with a generation.fail audit
// entry in its tenant's chain, once it is past its deadline (the time its
// own call was certain to have ended) by the grace: in every tenant, and no
// other record. A record from before deadlines goes by its age and this
// server's timeout. A second sweep finds nothing.
func TestSweepMarksInterruptedCalls(t *testing.T) {
	ctx := context.Background()
	d := newDemoDB(t, "sweep-a")
	db := d.db
	svc := d.service(nil, "")
	grace := assistant.SweepGrace
	if stale := svc.StaleAfter(); stale <= 3*time.Minute {
		t.Fatalf("StaleAfter %s is within the default call timeout", stale)
	}
	tn, err := auth.NewService(db.Pool).CreateTenant(ctx, "sweep-b", "")
	if err != nil {
		t.Fatal(err)
	}
	tenants := []uuid.UUID{d.tenant, tn.ID}
	// running inserts a record of tenant as its server would have left it,
	// begun age ago, with its deadline that far from now (none: nil).
	running := func(tenant uuid.UUID, age time.Duration, deadline *time.Duration) uuid.UUID {
		t.Helper()
		var until *float64
		if deadline != nil {
			secs := deadline.Seconds()
			until = &secs
		}
		id := uuid.New()
		err := store.InTenant(ctx, db.Pool, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `
				INSERT INTO generations (id, tenant_id, task, status, prompt_name, prompt_version, prompt_digest,
					provider, model, offline, role, input, request_id, created_at, deadline)
				VALUES ($1, $2, 'email_draft', 'running', 'email_draft', 1, 'digest', 'test', 'gate', false, 'rep', '{}', 'req-1',
					now() - make_interval(secs => $3), now() + make_interval(secs => $4))`, id, tenant, age.Seconds(), until)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	in := func(d time.Duration) *time.Duration { return &d }
	dead := []uuid.UUID{
		running(tenants[0], time.Hour, in(-grace-time.Minute)),       // past its deadline and the grace
		running(tenants[1], svc.StaleAfter()+grace+time.Minute, nil), // no deadline, old enough
	}
	alive := []uuid.UUID{
		running(tenants[0], time.Hour, in(5*time.Minute)),      // a long call from a server with a long timeout
		running(tenants[0], 5*time.Minute, in(-grace/2)),       // past its deadline, within the grace
		running(tenants[1], svc.StaleAfter()-time.Minute, nil), // no deadline, young enough
	}

	n, err := svc.SweepInterrupted(ctx, grace)
	if err != nil || n != len(dead) {
		t.Fatalf("SweepInterrupted = %d, %v; want %d", n, err, len(dead))
	}
	check := func(id uuid.UUID, status string) *assistant.Record {
		t.Helper()
		for _, tenant := range tenants {
			r, err := svc.Get(ctx, store.Scope{Tenant: tenant, Role: "admin"}, id)
			if errors.Is(err, assistant.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != status {
				t.Fatalf("generation %s: status %s, want %s", id, r.Status, status)
			}
			return r
		}
		t.Fatalf("generation %s not found", id)
		return nil
	}
	for _, id := range dead {
		r := check(id, "failed")
		if r.Error != assistant.InterruptedError || len(r.Audit) != 1 || r.Audit[0].Action != "generation.fail" || r.Audit[0].Actor != "system" {
			t.Fatalf("swept record: error %q, audit %+v", r.Error, r.Audit)
		}
		var d struct {
			Task, Error string
			RequestID   string `json:"request_id"`
		}
		if err := json.Unmarshal(r.Audit[0].Details, &d); err != nil || d.Task != "email_draft" || d.Error != assistant.InterruptedError || d.RequestID != "req-1" {
			t.Fatalf("audit details %s (%v)", r.Audit[0].Details, err)
		}
	}
	for _, id := range alive {
		if r := check(id, "running"); len(r.Audit) != 0 {
			t.Fatalf("live call's record has audit entries %+v", r.Audit)
		}
	}
	if n, err := svc.SweepInterrupted(ctx, grace); err != nil || n != 0 {
		t.Fatalf("second sweep = %d, %v; want 0", n, err)
	}
	for _, tenant := range tenants {
		rep, err := audit.Verify(ctx, db.Pool, tenant)
		if err != nil || !rep.OK || rep.Entries != 1 {
			t.Fatalf("audit chain of %s: %+v, %v", tenant, rep, err)
		}
	}
	if _, err := svc.SweepInterrupted(ctx, -time.Second); err == nil {
		t.Fatal("a negative grace was accepted")
	}
}
