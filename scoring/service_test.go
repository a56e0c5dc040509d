package scoring

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

func newService(t *testing.T, cfg Config) (*Service, store.Scope) {
	t.Helper()
	db := storetest.New(t)
	tn, err := auth.NewService(db.Pool).CreateTenant(context.Background(), "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return now }
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewService(db.Pool, nil, cfg), store.Scope{Tenant: tn.ID, Role: "ops"}
}

func importTestdata(t *testing.T, s *Service, sc store.Scope) *ImportResult {
	t.Helper()
	res, err := s.Import(context.Background(), sc, strings.NewReader(testdataBytes(t)), ReadOptions{Mapping: "generic"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestVersionsAndScoresRecordThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, sc := newService(t, Config{})
	// Before any training the built-in rules (version 0) score.
	if _, err := s.Upsert(ctx, sc, []Opportunity{{ExternalID: "NEW-1", Stage: "proposal", Meetings: ptr(0), Emails: ptr(0), Calls: ptr(0)}}); err != nil {
		t.Fatal(err)
	}
	out, err := s.Score(ctx, sc, []Request{{ExternalID: "NEW-1"}}, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Model.Version != 0 || out[0].Model.Method != MethodRules || !out[0].Risk.Flag {
		t.Fatalf("cold score = %+v", out[0])
	}
	res := importTestdata(t, s, sc)
	if res.Imported != 600 || res.Created != 600 || res.Closed != 560 || len(res.Errors) != 0 {
		t.Fatalf("import = %+v", res)
	}
	m1, err := s.Train(ctx, sc.Tenant, TrainOptions{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s.Train(ctx, sc.Tenant, TrainOptions{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if m1.Version != 1 || m2.Version != 2 || m2.Method != MethodLogistic {
		t.Fatalf("versions %d, %d (%s)", m1.Version, m2.Version, m2.Method)
	}
	out, err = s.Score(ctx, sc, []Request{{ExternalID: "OPP-0599"}, {Opportunity: &Opportunity{Stage: "lead", Industry: "finance"}}}, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Model.Version != 2 {
			t.Fatalf("scored by v%d", o.Model.Version)
		}
	}
	hist, err := s.ScoreHistory(ctx, sc, "OPP-0599")
	if err != nil || len(hist) != 1 || hist[0].ModelVersion != 2 || hist[0].Probability != out[0].Probability {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	infos, err := s.Models(ctx, sc.Tenant)
	if err != nil || len(infos) != 2 || !infos[0].Active || infos[1].Active || infos[0].Metrics.Baseline == nil {
		t.Fatalf("models = %+v, %v", infos, err)
	}
	// Re-importing changes nothing but counts updates.
	if res := importTestdata(t, s, sc); res.Updated != 600 || res.Closed != 0 {
		t.Fatalf("re-import = %+v", res)
	}
}

func TestBatchLimitsAndUnknownIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, sc := newService(t, Config{})
	reqs := make([]Request, MaxBatch+1)
	if _, err := s.Score(ctx, sc, reqs, ScoreOptions{}); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("huge batch: %v", err)
	}
	if _, err := s.Score(ctx, sc, nil, ScoreOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := s.Score(ctx, sc, []Request{{ExternalID: "nope"}}, ScoreOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := s.Score(ctx, sc, []Request{{Opportunity: &Opportunity{Stage: "nowhere"}}}, ScoreOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown stage: %v", err)
	}
	batch := make([]Request, MaxBatch)
	for i := range batch {
		batch[i] = Request{Opportunity: &Opportunity{Stage: "engaging", Meetings: ptr(i % 5)}}
	}
	out, err := s.Score(ctx, sc, batch, ScoreOptions{})
	if err != nil || len(out) != MaxBatch {
		t.Fatalf("full batch: %d, %v", len(out), err)
	}
}

func TestCompetitorAppearingIsARisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, sc := newService(t, Config{})
	o := Opportunity{ExternalID: "R1", Stage: "proposal", LastActivityAt: ptr(now.Add(-24 * time.Hour))}
	if _, err := s.Upsert(ctx, sc, []Opportunity{o}); err != nil {
		t.Fatal(err)
	}
	out, _ := s.Score(ctx, sc, []Request{{ExternalID: "R1"}}, ScoreOptions{NoRecord: true})
	if out[0].Risk.Flag {
		t.Fatalf("risk without reason: %+v", out[0].Risk)
	}
	o.Competitors = []string{"Huawei"}
	if _, err := s.Upsert(ctx, sc, []Opportunity{o}); err != nil {
		t.Fatal(err)
	}
	out, _ = s.Score(ctx, sc, []Request{{ExternalID: "R1"}}, ScoreOptions{NoRecord: true})
	if !out[0].Risk.Flag || !strings.Contains(strings.Join(out[0].Risk.Reasons, ";"), "competitor appeared") ||
		!strings.Contains(strings.Join(out[0].NextActions, ";"), "Huawei") {
		t.Fatalf("score = %+v", out[0])
	}
}

func TestRetrainsAutomaticallyWhenOutcomesArrive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, sc := newService(t, Config{AutoRetrain: true})
	opps := testdata(t)
	vals := make([]Opportunity, 0, 300)
	for _, o := range opps[:300] {
		vals = append(vals, *o)
	}
	if _, err := s.Upsert(ctx, sc, vals[:150]); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	if m, _ := s.ActiveModel(ctx, sc.Tenant); m.Version != 0 {
		t.Fatalf("trained with too few outcomes: v%d", m.Version)
	}
	if _, err := s.Upsert(ctx, sc, vals[150:]); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	m, _ := s.ActiveModel(ctx, sc.Tenant)
	if m.Version != 1 || m.Method != MethodLogistic || m.TrainedBy != "auto" {
		t.Fatalf("after 300 outcomes: %+v", m)
	}
	// 20 more outcomes are below max(50, 20%): no retraining.
	more := make([]Opportunity, 0, 100)
	for _, o := range opps[300:400] {
		more = append(more, *o)
	}
	if _, err := s.Upsert(ctx, sc, more[:20]); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	if m, _ := s.ActiveModel(ctx, sc.Tenant); m.Version != 1 {
		t.Fatalf("retrained on 20 outcomes: v%d", m.Version)
	}
	if _, err := s.Upsert(ctx, sc, more[20:]); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	if m, _ := s.ActiveModel(ctx, sc.Tenant); m.Version != 2 {
		t.Fatalf("not retrained after 100 new outcomes: v%d", m.Version)
	}
}

func TestRegionScopeOnWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, sc := newService(t, Config{})
	rep := store.Scope{Tenant: sc.Tenant, Role: "rep", Regions: []string{"jiangsu"}}
	if _, err := s.Upsert(ctx, rep, []Opportunity{{ExternalID: "B1", Stage: "lead", Region: "beijing"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("write outside region: %v", err)
	}
	if _, err := s.Upsert(ctx, sc, []Opportunity{{ExternalID: "B1", Stage: "lead", Region: "beijing"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Score(ctx, rep, []Request{{ExternalID: "B1"}}, ScoreOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read outside region: %v", err)
	}
}
