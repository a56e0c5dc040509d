package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/store"
)

type healthResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, healthResponse{Status: "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "migrations": "ok"}
	status := http.StatusOK
	if err := s.db.Ping(ctx); err != nil {
		checks["database"], checks["migrations"] = "unreachable: "+err.Error(), "unknown"
		status = http.StatusServiceUnavailable
	} else if err := store.CheckMigrated(ctx, s.db, s.cfg.Migrate); err != nil {
		checks["migrations"] = err.Error()
		status = http.StatusServiceUnavailable
	}
	body := healthResponse{Status: "ready", Checks: checks}
	if status != http.StatusOK {
		body.Status = "not ready"
	}
	return c.JSON(status, body)
}

func (s *Server) metricsHandler(c echo.Context) error {
	promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

func (s *Server) openAPIHandler(c echo.Context) error {
	return c.JSON(http.StatusOK, s.openAPI())
}

type meResponse struct {
	auth.Principal
	Model   providers.Info `json:"model"`
	Version string         `json:"version"`
}

func (s *Server) me(c echo.Context) error {
	return c.JSON(http.StatusOK, meResponse{Principal: principal(c), Model: s.models.Info, Version: s.cfg.Version})
}

type createKeyRequest struct {
	Name    string   `json:"name"`
	Role    string   `json:"role" doc:"admin, manager, rep, plugin or ops"`
	Regions []string `json:"regions,omitempty" doc:"region codes the key may see; empty for all"`
}

type createKeyResponse struct {
	auth.NewKey
	Warning string `json:"warning"`
}

type listKeysResponse struct {
	Keys []auth.Key `json:"keys"`
}

func (s *Server) createKey(c echo.Context) error {
	var req createKeyRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		return validation("role", err.Error())
	}
	p := principal(c)
	k, err := s.auth.CreateKey(c.Request().Context(), p.TenantID, auth.KeySpec{
		Name: req.Name, Role: role, Regions: req.Regions, CreatedBy: "key:" + p.KeyID.String(),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, createKeyResponse{NewKey: k, Warning: "store this key now: it is not shown again"})
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.auth.ListKeys(c.Request().Context(), principal(c).TenantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listKeysResponse{Keys: keys})
}

func (s *Server) revokeKey(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	k, err := s.auth.RevokeKey(c.Request().Context(), principal(c).TenantID, id, "key:"+principal(c).KeyID.String())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k)
}

func pathUUID(c echo.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, validation(name, "must be a UUID")
	}
	return id, nil
}

// optionalDay parses an optional YYYY-MM-DD field: nil when empty, a
// validation problem naming the field when it is not a date.
func optionalDay(field, value string) (*time.Time, error) {
	if value == "" {
		return nil, nil
	}
	date, err := knowledge.ParseDate(value)
	if err != nil {
		return nil, validation(field, "must be a date such as 2026-01-31")
	}
	t := date.Time()
	return &t, nil
}

func validation(field, msg string) *Problem {
	p := newProblem("validation_failed", field+": "+msg)
	p.Errors = []FieldError{{Field: field, Message: msg}}
	return p
}

// bindJSON decodes a JSON body strictly: the media type must be JSON, unknown
// fields and trailing data are errors, and syntax errors say where.
func bindJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); ct != "" && (err != nil || mt != "application/json") {
		return problemf("unsupported_media_type", "send the body as application/json, not %q", ct)
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var tooBig *http.MaxBytesError
		var he *echo.HTTPError
		switch {
		case errors.As(err, &he):
			return he
		case errors.As(err, &tooBig):
			return newProblem("body_too_large", "the request body exceeds the server's limit")
		case errors.Is(err, io.EOF):
			return newProblem("invalid_json", "the request body is empty; send a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return newProblem("invalid_json", "the JSON body ends too early")
		case errors.As(err, &syn):
			return problemf("invalid_json", "malformed JSON at byte %d: %v", syn.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			p := problemf("validation_failed", "unknown field %q", field)
			p.Errors = []FieldError{{Field: field, Message: "unknown field"}}
			return p
		case errors.As(err, &typ):
			p := problemf("validation_failed", "field %q must be %s", typ.Field, typ.Type)
			p.Errors = []FieldError{{Field: typ.Field, Message: fmt.Sprintf("must be %s", typ.Type)}}
			return p
		default: // well-formed JSON with a value a field rejects (a bad UUID, date...)
			return problemf("validation_failed", "%v", err)
		}
	}
	if dec.More() {
		return newProblem("invalid_json", "unexpected data after the JSON object")
	}
	return nil
}
