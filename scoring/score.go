package scoring

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
)

// MaxBatch is the most opportunities one scoring call takes.
const MaxBatch = 1000

// ErrBatchTooLarge means a batch over MaxBatch.
var ErrBatchTooLarge = fmt.Errorf("batch too large: at most %d opportunities per call", MaxBatch)

// Request asks for one score: a stored opportunity by external id, or an
// inline one (scored as given; when it names a stored external id, the
// stored record's competitor history still informs the risk).
type Request struct {
	ExternalID  string       `json:"external_id,omitempty" doc:"a stored opportunity"`
	Opportunity *Opportunity `json:"opportunity,omitempty" doc:"an inline opportunity, scored as given"`
}

// ModelRef names the model version that computed a score.
type ModelRef struct {
	Version int    `json:"version"`
	Method  string `json:"method"`
}

// SimilarDeal is a won deal from the knowledge base, citable by SourceID.
type SimilarDeal struct {
	SourceID   string  `json:"source_id"`
	DocumentID string  `json:"document_id"`
	Title      string  `json:"title"`
	Source     string  `json:"source"`
	Region     string  `json:"region,omitempty"`
	Snippet    string  `json:"snippet"`
	Score      float64 `json:"score"`
}

// Risk flags a deal that looks like it is slipping.
type Risk struct {
	Flag    bool     `json:"flag"`
	Reasons []string `json:"reasons"`
}

// Score is a scored opportunity.
type Score struct {
	ExternalID string   `json:"external_id,omitempty"`
	Model      ModelRef `json:"model"`
	Prediction
	SimilarWonDeals []SimilarDeal `json:"similar_won_deals"`
	NextActions     []string      `json:"next_actions"`
	Risk            Risk          `json:"risk"`
	ScoredAt        time.Time     `json:"scored_at"`
}

// ScoreOptions tune a scoring call.
type ScoreOptions struct {
	// Similar looks up similar won deals for each opportunity.
	Similar bool
	// By names the caller in the score records.
	By string
	// NoRecord skips storing the scores (benchmarks).
	NoRecord bool
}

// Score scores opportunities with the tenant's active model and records
// every score with the model version. Unknown external ids fail with
// ErrNotFound; invalid inline opportunities with a FieldError.
func (s *Service) Score(ctx context.Context, sc store.Scope, reqs []Request, opt ScoreOptions) ([]Score, error) {
	if len(reqs) == 0 {
		return nil, invalid("opportunities", "is empty: send at least one")
	}
	if len(reqs) > MaxBatch {
		return nil, ErrBatchTooLarge
	}
	var ids []string
	for i, r := range reqs {
		field := "external_id"
		if len(reqs) > 1 {
			field = fmt.Sprintf("opportunities[%d]", i)
		}
		switch {
		case r.Opportunity != nil && r.ExternalID != "" && r.Opportunity.ExternalID != "" && r.Opportunity.ExternalID != r.ExternalID:
			return nil, invalid(field, "external_id and opportunity.external_id differ")
		case r.Opportunity != nil:
			if r.Opportunity.ExternalID == "" {
				r.Opportunity.ExternalID = r.ExternalID
			}
			if err := r.Opportunity.Normalize(false); err != nil {
				if fe, ok := err.(*FieldError); ok && len(reqs) > 1 {
					return nil, invalid(field+".opportunity."+fe.Field, "%s", fe.Reason)
				}
				return nil, err
			}
			if r.Opportunity.ExternalID != "" {
				ids = append(ids, r.Opportunity.ExternalID)
			}
		case strings.TrimSpace(r.ExternalID) == "":
			return nil, invalid(field, "send external_id or an inline opportunity")
		default:
			ids = append(ids, strings.TrimSpace(r.ExternalID))
		}
	}
	stored, err := s.loadByExternalID(ctx, sc, ids)
	if err != nil {
		return nil, err
	}
	m, err := s.model(ctx, sc.Tenant)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	opps := make([]*Opportunity, len(reqs))
	changed := make([]*time.Time, len(reqs))
	for i, r := range reqs {
		if r.Opportunity != nil {
			opps[i] = r.Opportunity
			if st, ok := stored[r.Opportunity.ExternalID]; ok {
				changed[i] = st.competitorsChangedAt
				if !subset(r.Opportunity.Competitors, st.Competitors) {
					changed[i] = &now
				}
			}
			continue
		}
		st, ok := stored[strings.TrimSpace(r.ExternalID)]
		if !ok {
			return nil, fmt.Errorf("%w: opportunity %q", ErrNotFound, r.ExternalID)
		}
		o := st.Opportunity
		opps[i] = &o
		changed[i] = st.competitorsChangedAt
	}
	out := s.ScoreWith(m, opps, changed, now)
	if opt.Similar && s.search != nil {
		s.similar(ctx, sc, opps, out)
	}
	for i := range out {
		out[i].NextActions = nextActions(opps[i], &out[i])
	}
	if !opt.NoRecord {
		if err := s.saveScores(ctx, sc, out, opps, opt.By); err != nil {
			return nil, fmt.Errorf("record scores: %w", err)
		}
	}
	return out, nil
}

// ScoreWith scores opportunities with a given model (no database).
// changed[i], when set, is when a competitor last appeared on opps[i].
func (s *Service) ScoreWith(m *Model, opps []*Opportunity, changed []*time.Time, now time.Time) []Score {
	out := make([]Score, len(opps))
	for i, o := range opps {
		out[i] = Score{ExternalID: o.ExternalID, Model: ModelRef{Version: m.Version, Method: m.Method},
			Prediction: m.Predict(o, now), SimilarWonDeals: []SimilarDeal{}, ScoredAt: now}
		var c *time.Time
		if changed != nil {
			c = changed[i]
		}
		out[i].Risk = assessRisk(o, m.StageDays, c, now)
	}
	return out
}

func subset(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Risk thresholds.
const (
	inactiveDays      = 21
	competitorNewDays = 30
)

func assessRisk(o *Opportunity, stageDays map[string]float64, compChanged *time.Time, now time.Time) Risk {
	r := Risk{Reasons: []string{}}
	if o.Outcome != OutcomeOpen && o.Outcome != "" {
		return r
	}
	if o.LastActivityAt != nil {
		if d := int(now.Sub(*o.LastActivityAt).Hours() / 24); d > inactiveDays {
			r.Reasons = append(r.Reasons, fmt.Sprintf("no activity for %d days (last on %s)", d, o.LastActivityAt.Format(time.DateOnly)))
		}
	} else if activityKnown(o) && activityTotal(o) == 0 {
		r.Reasons = append(r.Reasons, "no activity logged")
	}
	if typical, ok := typicalDays(stageDays, o.Stage); ok && o.DaysInStage != nil && float64(*o.DaysInStage) > typical {
		src := "default"
		if _, own := stageDays[o.Stage]; own {
			src = "this tenant's 75th percentile"
		}
		r.Reasons = append(r.Reasons, fmt.Sprintf("stalled in %s for %d days; typical is %.0f (%s)", o.Stage, *o.DaysInStage, typical, src))
	}
	if compChanged != nil && now.Sub(*compChanged) <= competitorNewDays*24*time.Hour && len(o.Competitors) > 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("competitor appeared %s: %s", ago(now.Sub(*compChanged)), joinList(o.Competitors)))
	}
	r.Flag = len(r.Reasons) > 0
	return r
}

func ago(d time.Duration) string {
	days := int(d.Hours() / 24)
	switch days {
	case 0:
		return "today"
	case 1:
		return "yesterday"
	}
	return fmt.Sprintf("%d days ago", days)
}

// similar looks up won deals like each opportunity, a few at a time.
func (s *Service) similar(ctx context.Context, sc store.Scope, opps []*Opportunity, out []Score) {
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, o := range opps {
		text := strings.Join(nonEmpty(o.Industry, o.ProductLine, o.Customer, o.Region, o.Name, joinList(o.Competitors)), " ")
		if text == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := s.search.Search(ctx, retrieval.Query{Text: text, Scope: sc, K: s.cfg.SimilarDeals,
				Filters: retrieval.Filters{Kinds: []string{"won_deal"}}})
			if err != nil {
				s.log.Warn("scoring: similar deals", "error", err)
				return
			}
			seen := map[string]bool{}
			for _, h := range res.Hits {
				if seen[h.DocumentID.String()] {
					continue
				}
				seen[h.DocumentID.String()] = true
				out[i].SimilarWonDeals = append(out[i].SimilarWonDeals, SimilarDeal{SourceID: h.SourceID, DocumentID: h.DocumentID.String(),
					Title: h.Title, Source: h.Source, Region: h.Region, Snippet: h.Snippet, Score: round(h.Score, 4)})
			}
		}()
	}
	wg.Wait()
}

func nonEmpty(xs ...string) []string {
	var out []string
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			out = append(out, x)
		}
	}
	return out
}

var stageActions = map[string]string{
	"lead":          "Qualify the lead: confirm need, budget and who decides.",
	"prospecting":   "Book a discovery call and identify the economic buyer.",
	"qualification": "Confirm budget, decision process and timeline in writing.",
	"engaging":      "Run a tailored demo or pilot with the decision makers.",
	"proposal":      "Walk the decision makers through the proposal and agree a decision date.",
	"negotiation":   "Close open commercial terms and get the contract into signature.",
}

// nextActions suggests what to do, from the risk reasons, the factors
// against and the stage.
func nextActions(o *Opportunity, s *Score) []string {
	var out []string
	if o.Outcome != OutcomeOpen && o.Outcome != "" {
		return []string{}
	}
	for _, r := range s.Risk.Reasons {
		switch {
		case strings.HasPrefix(r, "no activity"):
			out = append(out, "Re-engage this week: call the champion and book the next meeting.")
		case strings.HasPrefix(r, "stalled"):
			out = append(out, fmt.Sprintf("Agree a dated next step to move the deal out of %s.", o.Stage))
		case strings.HasPrefix(r, "competitor"):
			out = append(out, fmt.Sprintf("Prepare a comparison against %s and confirm the evaluation criteria.", joinList(o.Competitors)))
		}
	}
	if a, ok := stageActions[o.Stage]; ok {
		out = append(out, a)
	}
	for _, f := range s.FactorsAgainst {
		if len(out) >= 5 {
			break
		}
		switch f.Feature {
		case "meetings", "calls", "emails", "last_activity_at":
			out = append(out, fmt.Sprintf("Increase engagement: %s is low for deals that win (%s).", strings.ToLower(f.Label), f.Value))
		case "competitors", "competitor_count":
			if len(o.Competitors) > 0 && !strings.Contains(strings.Join(out, " "), "comparison") {
				out = append(out, fmt.Sprintf("Prepare a comparison against %s.", joinList(o.Competitors)))
			}
		}
	}
	if len(s.SimilarWonDeals) > 0 {
		d := s.SimilarWonDeals[0]
		out = append(out, fmt.Sprintf("Reuse what won %s [%s].", d.Title, d.SourceID))
	}
	return dedupe(out)
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
