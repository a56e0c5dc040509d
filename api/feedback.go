package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/feedback"
)

type feedbackResponse struct {
	feedback.Feedback
	// Created is false when the rep's earlier feedback on the generation
	// was updated (or resent unchanged).
	Created bool `json:"created"`
}

func (s *Server) giveFeedback(c echo.Context) error {
	var in feedback.Input
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	fb, created, err := s.feedback.Record(c.Request().Context(), scope(principal(c)), in)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, feedbackResponse{Feedback: fb, Created: created})
}

func (s *Server) feedbackStats(c echo.Context) error {
	q := feedback.StatsQuery{Task: c.QueryParam("task")}
	if by := c.QueryParam("by"); by != "" {
		q.By = strings.Split(by, ",")
	}
	var err error
	if q.From, err = optionalDay("from", c.QueryParam("from")); err != nil {
		return err
	}
	if q.To, err = optionalDay("to", c.QueryParam("to")); err != nil {
		return err
	}
	st, err := s.feedback.Stats(c.Request().Context(), scope(principal(c)), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

type promoteRequest struct {
	Title string `json:"title,omitempty" doc:"title of the playbook document; default names the task and feedback"`
}

func (s *Server) promoteFeedback(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return validation("id", "must be a UUID")
	}
	var req promoteRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	res, err := s.feedback.Promote(c.Request().Context(), scope(principal(c)), id, s.knowledge, req.Title)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

// feedbackProblem maps the feedback package's errors to problems.
func feedbackProblem(err error) (*Problem, bool) {
	var fe *feedback.FieldError
	switch {
	case errors.As(err, &fe):
		return validation(fe.Field, fe.Reason), true
	case errors.Is(err, feedback.ErrInvalid):
		return newProblem("validation_failed", err.Error()), true
	case errors.Is(err, feedback.ErrNotFound):
		return newProblem("not_found", err.Error()), true
	case errors.Is(err, feedback.ErrConflict):
		return newProblem("conflict", err.Error()), true
	}
	return nil, false
}
