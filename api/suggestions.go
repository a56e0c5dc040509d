package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/suggest"
)

func (s *Server) suggestions(c echo.Context) error {
	var req suggest.Request
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	resp, err := s.suggest.Suggest(c.Request().Context(), assistant.Caller{Scope: scope(p), Name: p.KeyName, RequestID: requestID(c)}, req)
	if err != nil {
		return err
	}
	if resp.Cached {
		c.Response().Header().Set("X-Cache", "hit")
	} else {
		c.Response().Header().Set("X-Cache", "miss")
	}
	return c.JSON(http.StatusOK, resp)
}

// suggestProblem maps the suggest package's errors to problems.
func suggestProblem(err error) (*Problem, bool) {
	var fe *suggest.FieldError
	if errors.As(err, &fe) {
		return validation(fe.Field, fe.Reason), true
	}
	return nil, false
}
