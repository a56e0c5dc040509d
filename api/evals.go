package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/evals"
)

type evalRunRequest struct {
	Suite         string     `json:"suite,omitempty" doc:"name of a bundled suite (email_draft, meeting_notes, talk_track, objection, tender_analysis, competitive_intel)"`
	SuiteYAML     string     `json:"suite_yaml,omitempty" doc:"or a whole suite as YAML (see evals/README.md)"`
	PromptVersion int        `json:"prompt_version,omitempty" doc:"pin every case to this template version; 0 follows the tenant's policy"`
	BaselineRunID *uuid.UUID `json:"baseline_run_id,omitempty" doc:"a stored run of the same suite to gate against"`
	Concurrency   int        `json:"concurrency,omitempty" doc:"cases run at once, 1-16 (default 4)"`
}

type evalRunAccepted struct {
	ID     uuid.UUID `json:"id"`
	Status string    `json:"status" doc:"running"`
	Suite  string    `json:"suite"`
	Cases  int       `json:"cases"`
	// Location is where to read the run's progress and outcome.
	Location string `json:"location"`
}

// maxEvalConcurrency bounds the cases one API-started run has in flight,
// so a run cannot take over the server's model and database capacity.
const maxEvalConcurrency = 16

func (s *Server) startEvalRun(c echo.Context) error {
	if s.evals == nil {
		return newProblem("unavailable", "eval runs are not configured on this server")
	}
	var req evalRunRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	var (
		suite *evals.Suite
		err   error
	)
	switch {
	case (req.Suite == "") == (strings.TrimSpace(req.SuiteYAML) == ""):
		return validation("suite", "give either suite (a bundled suite name) or suite_yaml")
	case req.Suite != "":
		if strings.ContainsAny(req.Suite, `/\.`) {
			return validation("suite", "a bundled suite name such as email_draft; send other suites as suite_yaml")
		}
		suite, err = evals.Load(req.Suite)
	default:
		suite, err = evals.Parse([]byte(req.SuiteYAML), "inline")
	}
	if err != nil {
		return err
	}
	if req.PromptVersion < 0 {
		return validation("prompt_version", "must not be negative")
	}
	if req.Concurrency < 0 || req.Concurrency > maxEvalConcurrency {
		return validation("concurrency", "must be 1-16")
	}
	p := principal(c)
	ctx := c.Request().Context()
	opts := evals.Options{Tenant: p.TenantID, PromptVersion: req.PromptVersion, Concurrency: req.Concurrency, CreatedBy: p.KeyID.String()}
	if req.BaselineRunID != nil {
		base, err := s.evals.Store().Get(ctx, p.TenantID, *req.BaselineRunID)
		if err != nil {
			return err
		}
		if base.Status == evals.StatusRunning {
			return newProblem("conflict", "the baseline run has not finished yet")
		}
		opts.Baseline = base
	}
	run, err := s.evals.Start(ctx, suite, opts)
	if err != nil {
		return err
	}
	loc := "/v1/evals/runs/" + run.ID.String()
	c.Response().Header().Set(echo.HeaderLocation, loc)
	return c.JSON(http.StatusAccepted, evalRunAccepted{ID: run.ID, Status: run.Status, Suite: run.Suite, Cases: len(suite.Cases), Location: loc})
}

func (s *Server) getEvalRun(c echo.Context) error {
	if s.evals == nil {
		return newProblem("unavailable", "eval runs are not configured on this server")
	}
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return validation("id", "must be a UUID")
	}
	run, err := s.evals.Store().Get(c.Request().Context(), principal(c).TenantID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, run)
}

// evalsProblem maps the evals package's errors to problems.
func evalsProblem(err error) (*Problem, bool) {
	switch {
	case errors.Is(err, evals.ErrInvalidSuite):
		return newProblem("invalid_suite", err.Error()), true
	case errors.Is(err, evals.ErrUnknownSuite), errors.Is(err, evals.ErrNotFound):
		return newProblem("not_found", err.Error()), true
	}
	return nil, false
}
