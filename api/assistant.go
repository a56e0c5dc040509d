package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

// taskCommon are the fields every task request may carry.
type taskCommon struct {
	Language string `json:"language,omitempty" doc:"zh or en; empty: the language of the request"`
	Seller   string `json:"seller,omitempty" doc:"our company, the 'we' of the answer"`
	// PromptVersion pins a template version for this call (ops and admin
	// keys: eval runs compare versions this way).
	PromptVersion int `json:"prompt_version,omitempty" doc:"pin a prompt template version (admin and ops keys only)"`
}

func (t taskCommon) common() prompts.Common {
	return prompts.Common{Language: t.Language, Seller: t.Seller}
}

type emailDraftRequest struct {
	taskCommon
	Purpose       string `json:"purpose" doc:"first_contact, follow_up, proposal, objection_reply or win_back"`
	Customer      string `json:"customer"`
	RecipientName string `json:"recipient_name,omitempty"`
	RecipientRole string `json:"recipient_role,omitempty"`
	Sender        string `json:"sender,omitempty" doc:"signature: the rep's name and title"`
	DealContext   string `json:"deal_context,omitempty" doc:"stage, last contact, what was promised"`
	Tone          string `json:"tone,omitempty"`
	Length        string `json:"length,omitempty" doc:"short, medium (default) or long"`
	Instructions  string `json:"instructions,omitempty"`
}

type meetingNotesRequest struct {
	taskCommon
	Transcript   string           `json:"transcript" doc:"the transcript or raw notes"`
	Customer     string           `json:"customer,omitempty"`
	Date         string           `json:"date,omitempty" doc:"YYYY-MM-DD: relative dates in the transcript resolve against it"`
	Participants []prompts.Person `json:"participants,omitempty"`
}

type talkTrackRequest struct {
	taskCommon
	Customer    string           `json:"customer"`
	Region      string           `json:"region,omitempty"`
	Industry    string           `json:"industry,omitempty"`
	Stage       string           `json:"stage,omitempty" doc:"prospecting, qualification, solution, tender, negotiation"`
	Products    []string         `json:"products,omitempty"`
	Competitors []string         `json:"competitors,omitempty"`
	Contacts    []prompts.Person `json:"contacts,omitempty" doc:"decision makers: name, role, side"`
	Notes       string           `json:"notes,omitempty"`
}

type objectionRequest struct {
	taskCommon
	Objection  string `json:"objection" doc:"what the customer said"`
	Customer   string `json:"customer,omitempty"`
	Stage      string `json:"stage,omitempty"`
	Competitor string `json:"competitor,omitempty"`
	Context    string `json:"context,omitempty"`
}

type tenderRequest struct {
	taskCommon
	Title      string     `json:"title,omitempty" doc:"required with tender text; default: the document's title"`
	Tender     string     `json:"tender,omitempty" doc:"the tender text; or give document_id"`
	DocumentID *uuid.UUID `json:"document_id,omitempty" doc:"an ingested tender document to analyse"`
	Customer   string     `json:"customer,omitempty"`
	Products   []string   `json:"products,omitempty" doc:"our products to compare against"`
}

type intelRequest struct {
	taskCommon
	Text        string   `json:"text" doc:"field notes, a bid opening record, a brochure"`
	Title       string   `json:"title,omitempty"`
	Competitors []string `json:"competitors,omitempty" doc:"names already known, as hints"`
}

// taskResponse documents the common fields of every task answer; the
// task's own fields (subject and body for an email, summary and
// crm_fields for meeting notes, ...) sit beside them at the top level, as
// the task's output schema (GET /v1/prompts) describes.
type taskResponse struct {
	GenerationID uuid.UUID           `json:"generation_id"`
	Task         string              `json:"task"`
	Sources      []assistant.Source  `json:"sources"`
	Model        assistant.ModelInfo `json:"model"`
	Checks       assistant.Checks    `json:"checks"`
	Usage        any                 `json:"usage"`
	Timings      assistant.Timings   `json:"timings"`
	Degraded     []string            `json:"degraded,omitempty"`
}

func (s *Server) draftEmail(c echo.Context) error {
	var req emailDraftRequest
	return s.runTask(c, &req, func() (any, error) {
		return prompts.EmailDraftInput{Common: req.common(), Purpose: req.Purpose, Customer: req.Customer,
			RecipientName: req.RecipientName, RecipientRole: req.RecipientRole, Sender: req.Sender,
			DealContext: req.DealContext, Tone: req.Tone, Length: req.Length, Instructions: req.Instructions}, nil
	}, &req.taskCommon)
}

func (s *Server) meetingNotes(c echo.Context) error {
	var req meetingNotesRequest
	return s.runTask(c, &req, func() (any, error) {
		return prompts.MeetingNotesInput{Common: req.common(), Transcript: req.Transcript, Customer: req.Customer,
			Date: req.Date, Participants: req.Participants}, nil
	}, &req.taskCommon)
}

func (s *Server) talkTrack(c echo.Context) error {
	var req talkTrackRequest
	return s.runTask(c, &req, func() (any, error) {
		return prompts.TalkTrackInput{Common: req.common(), Customer: req.Customer, Region: req.Region,
			Industry: req.Industry, Stage: req.Stage, Products: req.Products, Competitors: req.Competitors,
			Contacts: req.Contacts, Notes: req.Notes}, nil
	}, &req.taskCommon)
}

func (s *Server) objection(c echo.Context) error {
	var req objectionRequest
	return s.runTask(c, &req, func() (any, error) {
		return prompts.ObjectionInput{Common: req.common(), Objection: req.Objection, Customer: req.Customer,
			Stage: req.Stage, Competitor: req.Competitor, Context: req.Context}, nil
	}, &req.taskCommon)
}

func (s *Server) analyzeTender(c echo.Context) error {
	var req tenderRequest
	return s.runTask(c, &req, func() (any, error) {
		in := prompts.TenderAnalysisInput{Common: req.common(), Title: req.Title, Tender: req.Tender,
			Customer: req.Customer, Products: req.Products}
		switch {
		case req.DocumentID != nil && req.Tender != "":
			return nil, validation("document_id", "give either tender text or document_id, not both")
		case req.DocumentID != nil:
			doc, text, err := s.knowledge.Text(c.Request().Context(), scope(principal(c)), *req.DocumentID)
			if err != nil {
				return nil, err
			}
			in.Tender = text
			if in.Title == "" {
				in.Title = doc.Title
			}
			if in.Customer == "" {
				in.Customer = doc.Customer
			}
		case req.Tender == "":
			return nil, validation("tender", "give the tender text or the document_id of an ingested tender")
		}
		return in, nil
	}, &req.taskCommon)
}

func (s *Server) competitiveIntel(c echo.Context) error {
	var req intelRequest
	return s.runTask(c, &req, func() (any, error) {
		return prompts.CompetitiveIntelInput{Common: req.common(), Text: req.Text, Title: req.Title,
			Competitors: req.Competitors}, nil
	}, &req.taskCommon)
}

// runTask binds a task request, builds the task input, runs it, and
// answers with JSON or, when the client accepts text/event-stream, with a
// stream of events.
func (s *Server) runTask(c echo.Context, req any, build func() (any, error), tc *taskCommon) error {
	if err := bindJSON(c, req); err != nil {
		return err
	}
	p := principal(c)
	if tc.PromptVersion != 0 && !p.HasRole(auth.RoleAdmin, auth.RoleOps) {
		return newProblem("forbidden", "prompt_version may be pinned by admin and ops keys only")
	}
	if tc.PromptVersion < 0 {
		return validation("prompt_version", "must be positive")
	}
	input, err := build()
	if err != nil {
		return err
	}
	caller := assistant.Caller{Scope: scope(p), Name: p.KeyName, RequestID: requestID(c)}
	opts := assistant.Options{PromptVersion: tc.PromptVersion}
	if wantsEventStream(c.Request()) {
		return s.streamTask(c, caller, input, opts)
	}
	gen, err := s.assistant.Run(c.Request().Context(), caller, input, opts)
	if err != nil {
		return err
	}
	s.metrics.observeGeneration(gen)
	return c.JSON(http.StatusOK, taskBody(gen))
}

// taskBody is a generation as the API answers it: the task's fields at the
// top level beside generation_id, sources, model and checks.
func taskBody(g *assistant.Generation) map[string]any {
	body := make(map[string]any, len(g.Output)+8)
	for k, v := range g.Output {
		body[k] = v
	}
	body["generation_id"] = g.ID
	body["task"] = g.Task
	body["sources"] = g.Sources
	body["model"] = g.Model
	body["checks"] = g.Checks
	body["usage"] = g.Usage
	body["timings"] = g.Timings
	if len(g.Degraded) > 0 {
		body["degraded"] = g.Degraded
	}
	return body
}

func wantsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get(echo.HeaderAccept), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			return true
		}
	}
	return false
}

// streamTask answers with server-sent events:
//
//	event: start   data: {generation_id, task, model, sources}   retrieval done, the model is called
//	event: token   data: {"text": "..."}      the model's text as it comes
//	event: repair  data: {"reason": "..."}    the answer failed validation; a corrected one follows
//	event: result  data: {...}                the same body as the JSON answer
//	event: error   data: {...problem...}      the call failed; the stream ends
func (s *Server) streamTask(c echo.Context, caller assistant.Caller, input any, opts assistant.Options) error {
	w := c.Response()
	flusher, ok := w.Writer.(http.Flusher)
	if !ok {
		return errors.New("api: response writer cannot stream")
	}
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	send := func(event string, data any) error {
		raw, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, raw); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	opts.OnStart = func(g *assistant.Generation) error {
		return send("start", map[string]any{"generation_id": g.ID, "task": g.Task, "model": g.Model, "sources": g.Sources})
	}
	opts.Stream = func(kind, text string) error {
		if kind == "repair" {
			return send("repair", map[string]string{"reason": text})
		}
		return send("token", map[string]string{"text": text})
	}
	gen, err := s.assistant.Run(c.Request().Context(), caller, input, opts)
	if err != nil {
		p, internal := toProblem(err)
		p.RequestID = requestID(c)
		if internal {
			s.log.ErrorContext(c.Request().Context(), "stream failed", "request_id", p.RequestID, "error", err)
		}
		return send("error", p)
	}
	s.metrics.observeGeneration(gen)
	return send("result", taskBody(gen))
}

func (s *Server) getGeneration(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return validation("id", "must be a UUID")
	}
	rec, err := s.assistant.Get(c.Request().Context(), scope(principal(c)), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rec)
}

type promptList struct {
	Prompts []assistant.PromptState `json:"prompts"`
}

func (s *Server) listPrompts(c echo.Context) error {
	list, err := s.assistant.Prompts(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, promptList{Prompts: list})
}

type setPromptRequest struct {
	Version        int     `json:"version" doc:"version to use; 0 follows the latest non-draft version"`
	Candidate      int     `json:"candidate,omitempty" doc:"A/B: a second version that gets candidate_share of requests"`
	CandidateShare float64 `json:"candidate_share,omitempty" doc:"0-1"`
}

func (s *Server) setPrompt(c echo.Context) error {
	var req setPromptRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	name := c.Param("name")
	if _, err := s.assistant.Registry().Latest(name); err != nil {
		return problemf("not_found", "no prompt template named %q", name)
	}
	p := prompts.Policy{Name: name, Version: req.Version, Candidate: req.Candidate, CandidateShare: req.CandidateShare}
	if err := s.assistant.SetPolicy(c.Request().Context(), scope(principal(c)), p); err != nil {
		return err
	}
	list, err := s.assistant.Prompts(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	for _, st := range list {
		if st.Name == name {
			return c.JSON(http.StatusOK, st)
		}
	}
	return fmt.Errorf("prompt %s vanished", name)
}

type featuresBody struct {
	Features map[string]bool `json:"features" doc:"task name -> on/off"`
}

func (s *Server) getFeatures(c echo.Context) error {
	f, err := s.assistant.Features(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, featuresBody{Features: f})
}

func (s *Server) setFeatures(c echo.Context) error {
	var req featuresBody
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if len(req.Features) == 0 {
		return validation("features", "name at least one task to switch on or off")
	}
	f, err := s.assistant.SetFeatures(c.Request().Context(), scope(principal(c)), req.Features)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, featuresBody{Features: f})
}

// assistantProblem maps the assistant's errors to problems.
func assistantProblem(err error) (*Problem, bool) {
	var fe *assistant.FieldError
	var call *providers.CallError
	switch {
	case errors.As(err, &fe):
		return validation(fe.Field, fe.Reason), true
	case errors.Is(err, assistant.ErrInvalidInput):
		return newProblem("validation_failed", err.Error()), true
	case errors.Is(err, assistant.ErrFeatureDisabled):
		return newProblem("feature_disabled", "this task is switched off for your tenant; an admin can switch it on with PUT /v1/features"), true
	case errors.Is(err, assistant.ErrInvalidOutput):
		return newProblem("model_output_invalid", err.Error()), true
	case errors.Is(err, assistant.ErrNotFound), errors.Is(err, knowledge.ErrNotFound):
		return newProblem("not_found", err.Error()), true
	case errors.Is(err, providers.ErrTimeout):
		return newProblem("model_timeout", "the model did not answer in time; try again or shorten the input"), true
	case errors.Is(err, providers.ErrCircuitOpen):
		p := newProblem("model_unavailable", "the model provider kept failing and is paused; try again shortly")
		p.RetryAfter = 30
		return p, true
	case errors.As(err, &call), errors.Is(err, providers.ErrInterrupted):
		return newProblem("model_unavailable", "the model provider failed: "+err.Error()), true
	}
	return nil, false
}
