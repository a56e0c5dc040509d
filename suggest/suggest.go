// Package suggest answers CRM plugins' one call per page view: given a
// CRM record (an opportunity or a contact), its stage and recent
// activity, the next-best things to do — an email to send, a talk track
// to use, an objection to prepare, a risk to address — each produced by
// the assistant (so with sources, citations and a generation id) or by the
// opportunity score. Answers are cached per record version: a plugin may
// call on every page view, and only a changed record (or a new version)
// costs a model call.
package suggest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/scoring"
)

// Suggestion types.
const (
	TypeEmail     = "email"
	TypeTalkTrack = "talk_track"
	TypeObjection = "objection"
	TypeRisk      = "risk"
)

// ErrInvalid marks a request the caller must fix; FieldError says where.
var ErrInvalid = errors.New("invalid suggestion request")

// FieldError is an invalid field of a request.
type FieldError struct{ Field, Reason string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Activity is one recent touchpoint on the record.
type Activity struct {
	// Type is email, call, meeting or note.
	Type    string `json:"type" doc:"email, call, meeting or note"`
	Date    string `json:"date,omitempty" doc:"YYYY-MM-DD"`
	Summary string `json:"summary,omitempty"`
}

// Record is the CRM record a page shows.
type Record struct {
	// Type is opportunity or contact.
	Type       string `json:"type" doc:"opportunity or contact"`
	ExternalID string `json:"external_id" doc:"the CRM's id of the record"`
	// Version identifies the record's state (the CRM's version number or
	// last-modified time): suggestions are cached per version.
	Version     string          `json:"version" doc:"the CRM's record version or last-modified time; suggestions are cached per version"`
	Customer    string          `json:"customer"`
	Stage       string          `json:"stage,omitempty" doc:"pipeline stage (prospecting, qualification, proposal, negotiation, won, lost ...)"`
	Region      string          `json:"region,omitempty"`
	Industry    string          `json:"industry,omitempty"`
	Products    []string        `json:"products,omitempty"`
	Competitors []string        `json:"competitors,omitempty"`
	Contact     *prompts.Person `json:"contact,omitempty" doc:"the person the page is about, or the deal's main contact"`
	Activity    []Activity      `json:"recent_activity,omitempty"`
}

// Request asks for suggestions.
type Request struct {
	Record   Record `json:"record"`
	Language string `json:"language,omitempty" doc:"zh or en; empty: the record's language"`
	// Types limits the suggestions; default all four.
	Types []string `json:"types,omitempty" doc:"any of email, talk_track, objection, risk (default all)"`
}

// Suggestion is one next-best thing to do.
type Suggestion struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	// Why says what on the record led to this suggestion.
	Why string `json:"why"`
	// GenerationID is the assistant answer behind it (nil for risks).
	GenerationID *uuid.UUID `json:"generation_id,omitempty"`
	// Output is the task's structured answer (the email, the pack, the
	// responses); Sources what it was grounded on.
	Output  map[string]any     `json:"output,omitempty"`
	Sources []assistant.Source `json:"sources,omitempty"`
	// Reasons and Actions describe a risk.
	Reasons []string `json:"reasons,omitempty"`
	Actions []string `json:"actions,omitempty"`
}

// Response is the suggestions for one record version.
type Response struct {
	Record struct {
		Type       string `json:"type"`
		ExternalID string `json:"external_id"`
		Version    string `json:"version"`
	} `json:"record"`
	Suggestions []Suggestion `json:"suggestions"`
	// Score is the opportunity's win probability when DealDesk knows it.
	Score *scoring.Score `json:"score,omitempty"`
	// Cached is true when this answer was computed for an earlier call
	// with the same record version.
	Cached      bool      `json:"cached"`
	GeneratedAt time.Time `json:"generated_at"`
	// Errors name suggestions that could not be made (a model failure),
	// so that one failing task does not hide the others.
	Errors []string `json:"errors,omitempty"`
}

// Config tunes the service.
type Config struct {
	// TTL bounds how long a record version's suggestions are reused
	// (default 15 minutes): knowledge and prompts change too.
	TTL time.Duration
	// MaxEntries bounds the cache (default 10,000 record versions).
	MaxEntries int
}

// Service makes suggestions.
type Service struct {
	assistant *assistant.Service
	scoring   *scoring.Service
	cfg       Config
	flight    singleflight.Group
	mu        sync.Mutex
	cache     map[string]cached
}

type cached struct {
	resp    Response
	expires time.Time
}

// New returns a Service; scoring may be nil (no risk suggestions from a
// score, only from the record's activity).
func New(a *assistant.Service, s *scoring.Service, cfg Config) *Service {
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Minute
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10_000
	}
	return &Service{assistant: a, scoring: s, cfg: cfg, cache: map[string]cached{}}
}

// validate checks a request and fills its defaults.
func (r *Request) validate() error {
	rec := &r.Record
	switch {
	case rec.Type != "opportunity" && rec.Type != "contact":
		return &FieldError{"record.type", "must be opportunity or contact"}
	case strings.TrimSpace(rec.ExternalID) == "":
		return &FieldError{"record.external_id", "is required"}
	case strings.TrimSpace(rec.Version) == "":
		return &FieldError{"record.version", "is required: suggestions are cached per record version"}
	case strings.TrimSpace(rec.Customer) == "":
		return &FieldError{"record.customer", "is required"}
	case len(rec.Activity) > 50:
		return &FieldError{"record.recent_activity", "at most 50 entries"}
	case r.Language != "" && r.Language != "zh" && r.Language != "en":
		return &FieldError{"language", "must be zh, en or empty"}
	}
	for _, f := range []struct{ name, value string }{{"record.external_id", rec.ExternalID}, {"record.version", rec.Version},
		{"record.customer", rec.Customer}, {"record.stage", rec.Stage}, {"record.region", rec.Region}, {"record.industry", rec.Industry}} {
		if utf8.RuneCountInString(f.value) > 200 {
			return &FieldError{f.name, "at most 200 characters"}
		}
	}
	for i, a := range rec.Activity {
		if utf8.RuneCountInString(a.Summary) > 2000 {
			return &FieldError{fmt.Sprintf("record.recent_activity[%d].summary", i), "at most 2000 characters"}
		}
	}
	all := []string{TypeEmail, TypeTalkTrack, TypeObjection, TypeRisk}
	if len(r.Types) == 0 {
		r.Types = all
	}
	for _, t := range r.Types {
		if !slices.Contains(all, t) {
			return &FieldError{"types", fmt.Sprintf("%q is not one of %s", t, strings.Join(all, ", "))}
		}
	}
	rec.Stage = strings.ToLower(strings.TrimSpace(rec.Stage))
	return nil
}

// Suggest returns the suggestions for a record version, from the cache
// when this caller asked for the same version recently. Concurrent calls
// for one record version share one computation.
func (s *Service) Suggest(ctx context.Context, caller assistant.Caller, req Request) (Response, error) {
	if err := req.validate(); err != nil {
		return Response{}, err
	}
	key := cacheKey(caller, req)
	if r, ok := s.lookup(key); ok {
		r.Cached = true
		return r, nil
	}
	v, err, _ := s.flight.Do(key, func() (any, error) {
		if r, ok := s.lookup(key); ok {
			return r, nil
		}
		r, err := s.compute(context.WithoutCancel(ctx), caller, req)
		if err != nil {
			return Response{}, err
		}
		s.store(key, r)
		return r, nil
	})
	if err != nil {
		return Response{}, err
	}
	return v.(Response), nil
}

// cacheKey: the same record version asked by the same caller (scope and
// key: generations are visible to their creator) with the same options.
func cacheKey(c assistant.Caller, r Request) string {
	raw, _ := json.Marshal([]any{c.Scope.Tenant, c.Scope.Role, c.Scope.Regions, c.Scope.KeyID,
		r.Record.Type, r.Record.ExternalID, r.Record.Version, r.Language, r.Types})
	return string(raw)
}

func (s *Service) lookup(key string) (Response, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[key]
	if !ok || time.Now().After(c.expires) {
		return Response{}, false
	}
	return c.resp, true
}

func (s *Service) store(key string, r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= s.cfg.MaxEntries {
		now := time.Now()
		for k, c := range s.cache {
			if now.After(c.expires) {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= s.cfg.MaxEntries {
			s.cache = map[string]cached{}
		}
	}
	s.cache[key] = cached{resp: r, expires: time.Now().Add(s.cfg.TTL)}
}

// compute makes the suggestions: the assistant tasks concurrently, the
// score alongside.
func (s *Service) compute(ctx context.Context, caller assistant.Caller, req Request) (Response, error) {
	rec := req.Record
	var resp Response
	resp.Record.Type, resp.Record.ExternalID, resp.Record.Version = rec.Type, rec.ExternalID, rec.Version
	resp.GeneratedAt = time.Now().UTC()

	type job struct {
		kind  string
		title string
		why   string
		input any
	}
	var jobs []job
	common := prompts.Common{Language: req.Language}
	if slices.Contains(req.Types, TypeEmail) {
		purpose, why := emailPurpose(rec)
		jobs = append(jobs, job{TypeEmail, emailTitle(purpose, rec.Customer), why, prompts.EmailDraftInput{
			Common: common, Purpose: purpose, Customer: rec.Customer, RecipientName: contactName(rec), RecipientRole: contactRole(rec),
			DealContext: dealContext(rec)}})
	}
	if slices.Contains(req.Types, TypeTalkTrack) && rec.Stage != "won" && rec.Stage != "lost" {
		var contacts []prompts.Person
		if rec.Contact != nil {
			contacts = []prompts.Person{*rec.Contact}
		}
		jobs = append(jobs, job{TypeTalkTrack, "Talk track for the " + orDefault(rec.Stage, "next") + " stage",
			"the record is at stage " + orDefault(rec.Stage, "unknown"), prompts.TalkTrackInput{Common: common,
				Customer: rec.Customer, Region: rec.Region, Industry: rec.Industry, Stage: rec.Stage, Products: rec.Products,
				Competitors: rec.Competitors, Contacts: contacts, Notes: dealContext(rec)}})
	}
	if slices.Contains(req.Types, TypeObjection) && rec.Stage != "won" {
		objection, why := likelyObjection(rec)
		competitor := ""
		if len(rec.Competitors) > 0 {
			competitor = rec.Competitors[0]
		}
		jobs = append(jobs, job{TypeObjection, "Prepare for: " + objection, why, prompts.ObjectionInput{Common: common,
			Objection: objection, Customer: rec.Customer, Stage: rec.Stage, Competitor: competitor, Context: dealContext(rec)}})
	}

	results := make([]*assistant.Generation, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { results[i], errs[i] = s.assistant.Run(ctx, caller, j.input, assistant.Options{}) })
	}
	var score *scoring.Score
	var scoreErr error
	if rec.Type == "opportunity" && s.scoring != nil && slices.Contains(req.Types, TypeRisk) {
		wg.Go(func() {
			scores, err := s.scoring.Score(ctx, caller.Scope, []scoring.Request{{ExternalID: rec.ExternalID}}, scoring.ScoreOptions{By: "suggestions"})
			if err == nil && len(scores) == 1 {
				score = &scores[0]
			}
			scoreErr = err
		})
	}
	wg.Wait()

	for i, j := range jobs {
		if errs[i] != nil {
			if errors.Is(errs[i], assistant.ErrFeatureDisabled) {
				continue // the tenant has switched this task off
			}
			if errors.Is(errs[i], assistant.ErrInvalidInput) {
				return Response{}, errs[i]
			}
			resp.Errors = append(resp.Errors, j.kind+": "+errs[i].Error())
			continue
		}
		g := results[i]
		id := g.ID
		var cited []assistant.Source
		for _, src := range g.Sources {
			if src.Cited {
				cited = append(cited, src)
			}
		}
		resp.Suggestions = append(resp.Suggestions, Suggestion{Type: j.kind, Title: j.title, Why: j.why,
			GenerationID: &id, Output: g.Output, Sources: cited})
	}
	if slices.Contains(req.Types, TypeRisk) {
		if risk := riskSuggestion(rec, score); risk != nil {
			resp.Suggestions = append(resp.Suggestions, *risk)
		}
		resp.Score = score
		if scoreErr != nil && !errors.Is(scoreErr, scoring.ErrNotFound) {
			resp.Errors = append(resp.Errors, "score: "+scoreErr.Error())
		}
	}
	if resp.Suggestions == nil {
		resp.Suggestions = []Suggestion{}
	}
	return resp, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func contactName(r Record) string {
	if r.Contact != nil {
		return r.Contact.Name
	}
	return ""
}

func contactRole(r Record) string {
	if r.Contact != nil {
		return r.Contact.Role
	}
	return ""
}
