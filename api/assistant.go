package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
)

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
	return s.runTask(c, &assistant.EmailDraftRequest{})
}

func (s *Server) meetingNotes(c echo.Context) error {
	return s.runTask(c, &assistant.MeetingNotesRequest{})
}

func (s *Server) talkTrack(c echo.Context) error {
	return s.runTask(c, &assistant.TalkTrackRequest{})
}

func (s *Server) objection(c echo.Context) error {
	return s.runTask(c, &assistant.ObjectionRequest{})
}

func (s *Server) analyzeTender(c echo.Context) error {
	req := &assistant.TenderRequest{}
	if err := bindJSON(c, req); err != nil {
		return err
	}
	// A tender already in the knowledge base is read in the caller's scope.
	if req.DocumentID != nil && req.Tender == "" {
		doc, text, err := s.knowledge.Text(c.Request().Context(), scope(principal(c)), *req.DocumentID)
		if err != nil {
			return err
		}
		req.Tender, req.DocumentID = text, nil
		req.Title = cmp.Or(req.Title, doc.Title)
		req.Customer = cmp.Or(req.Customer, doc.Customer)
	}
	return s.runBound(c, req)
}

func (s *Server) competitiveIntel(c echo.Context) error {
	return s.runTask(c, &assistant.IntelRequest{})
}

// runTask binds a task request and runs it.
func (s *Server) runTask(c echo.Context, req assistant.Request) error {
	if err := bindJSON(c, req); err != nil {
		return err
	}
	return s.runBound(c, req)
}

// runBound runs a bound task request and answers with JSON or, when the
// client accepts text/event-stream, with a stream of events.
func (s *Server) runBound(c echo.Context, req assistant.Request) error {
	tc := req.Options()
	p := principal(c)
	if tc.PromptVersion != 0 && !p.HasRole(auth.RoleAdmin, auth.RoleOps) {
		return newProblem("forbidden", "prompt_version may be pinned by admin and ops keys only")
	}
	if tc.PromptVersion < 0 {
		return validation("prompt_version", "must be positive")
	}
	input, err := req.Input()
	if err != nil {
		return err
	}
	caller := assistant.Caller{Scope: scope(p), Name: p.KeyName, RequestID: requestID(c)}
	opts := assistant.Options{PromptVersion: tc.PromptVersion}
	if wantsEventStream(c.Request()) {
		return s.streamTask(c, caller, input, opts)
	}
	gen, err := s.assistant.Run(c.Request().Context(), caller, input, opts)
	s.metrics.observeCall(gen, err)
	if err != nil {
		return err
	}
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
	s.metrics.observeCall(gen, err)
	if err != nil {
		p, internal := toProblem(err)
		p.RequestID = requestID(c)
		if internal {
			s.log.ErrorContext(c.Request().Context(), "stream failed", "request_id", p.RequestID, "error", err)
		}
		return send("error", p)
	}
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

type generationList struct {
	Generations []assistant.Summary `json:"generations"`
	// NextBefore pages: pass it as before for the next (older) page.
	NextBefore string `json:"next_before,omitempty"`
}

func (s *Server) listGenerations(c echo.Context) error {
	f := assistant.ListFilter{Task: c.QueryParam("task"), Status: c.QueryParam("status")}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return validation("limit", "must be a number from 1 to 200")
		}
		f.Limit = n
	}
	if v := c.QueryParam("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return validation("before", "must be an RFC 3339 time (next_before of the previous page)")
		}
		f.Before = &t
	}
	list, err := s.assistant.List(c.Request().Context(), scope(principal(c)), f)
	if err != nil {
		return err
	}
	out := generationList{Generations: list}
	if f.Limit > 0 && len(list) == f.Limit || f.Limit == 0 && len(list) == 50 {
		out.NextBefore = list[len(list)-1].CreatedAt.Format(time.RFC3339Nano)
	}
	return c.JSON(http.StatusOK, out)
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
