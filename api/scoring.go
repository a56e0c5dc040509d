package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/scoring"
)

type opportunityResponse struct {
	scoring.Opportunity
	// Created is false when an opportunity with the external id existed.
	Created bool `json:"created"`
}

func (s *Server) upsertOpportunity(c echo.Context) error {
	var o scoring.Opportunity
	if err := bindJSON(c, &o); err != nil {
		return err
	}
	res, err := s.scoring.Upsert(c.Request().Context(), scope(principal(c)), []scoring.Opportunity{o})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created > 0 {
		status = http.StatusCreated
	}
	return c.JSON(status, opportunityResponse{Opportunity: res.Stored[0], Created: res.Created > 0})
}

// importOpportunities takes a CSV export as multipart: `file`, `mapping`
// (generic, lead-scoring, crm-opportunities), `keep_post_outcome`, and for
// crm-opportunities the sibling files as parts products, accounts and
// sales_teams.
func (s *Server) importOpportunities(c echo.Context) error {
	fh, err := c.FormFile("file")
	if err != nil {
		return validation("file", "send the CSV as a multipart part named file")
	}
	mapping := c.FormValue("mapping")
	if mapping == "" {
		mapping = "generic"
	}
	known := false
	for _, n := range scoring.MappingNames {
		known = known || n == mapping
	}
	if !known {
		return validation("mapping", fmt.Sprintf("unknown mapping %q: want one of %v", mapping, scoring.MappingNames))
	}
	keep, _ := strconv.ParseBool(c.FormValue("keep_post_outcome"))
	opt := scoring.ReadOptions{Mapping: mapping, KeepPostOutcome: keep, Sidecars: map[string]io.Reader{}}
	for _, part := range []string{"products", "accounts", "sales_teams"} {
		if sh, err := c.FormFile(part); err == nil {
			f, err := sh.Open()
			if err != nil {
				return err
			}
			defer f.Close()
			opt.Sidecars[part+".csv"] = f
		}
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := s.scoring.Import(c.Request().Context(), scope(principal(c)), f, opt, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) scoreOpportunity(c echo.Context) error {
	var req scoring.Request
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	out, err := s.scoring.Score(c.Request().Context(), scope(p), []scoring.Request{req}, scoring.ScoreOptions{Similar: true, By: p.KeyID.String()})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out[0])
}

type batchScoreRequest struct {
	Opportunities []scoring.Request `json:"opportunities" doc:"1 to 1000 requests: external_id or an inline opportunity"`
	// Similar adds similar won deals to every score (slower).
	Similar bool `json:"similar,omitempty" doc:"look up similar won deals for each (default false)"`
}

type batchScoreResponse struct {
	Scores []scoring.Score  `json:"scores"`
	Model  scoring.ModelRef `json:"model"`
}

func (s *Server) scoreBatch(c echo.Context) error {
	var req batchScoreRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if len(req.Opportunities) == 0 {
		return validation("opportunities", "send 1 to 1000 opportunities")
	}
	p := principal(c)
	out, err := s.scoring.Score(c.Request().Context(), scope(p), req.Opportunities, scoring.ScoreOptions{Similar: req.Similar, By: p.KeyID.String()})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, batchScoreResponse{Scores: out, Model: out[0].Model})
}

type scoringModelResponse struct {
	Active   scoring.ModelInfo   `json:"active"`
	Versions []scoring.ModelInfo `json:"versions"`
}

func (s *Server) scoringModel(c echo.Context) error {
	ctx := c.Request().Context()
	t := principal(c).TenantID
	active, err := s.scoring.ActiveModel(ctx, t)
	if err != nil {
		return err
	}
	versions, err := s.scoring.Models(ctx, t)
	if err != nil {
		return err
	}
	if versions == nil {
		versions = []scoring.ModelInfo{}
	}
	return c.JSON(http.StatusOK, scoringModelResponse{Active: active, Versions: versions})
}

// scoringProblem maps the scoring package's errors to problems.
func scoringProblem(err error) (*Problem, bool) {
	var fe *scoring.FieldError
	switch {
	case errors.Is(err, scoring.ErrBatchTooLarge):
		return newProblem("batch_too_large", err.Error()), true
	case errors.As(err, &fe):
		return validation(fe.Field, fe.Reason), true
	case errors.Is(err, scoring.ErrInvalid):
		return newProblem("validation_failed", err.Error()), true
	case errors.Is(err, scoring.ErrBadMapping):
		return newProblem("bad_mapping", err.Error()), true
	case errors.Is(err, scoring.ErrNotFound):
		return newProblem("not_found", err.Error()), true
	}
	return nil, false
}
