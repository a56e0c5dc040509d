package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
)

// Problem is an RFC 9457 problem detail. Code is stable and documented in
// docs/problems.md; clients branch on it, never on Title or Detail.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// RetryAfter, when set, is also sent as the Retry-After header.
	RetryAfter int `json:"retry_after,omitempty"`
}

// FieldError points at one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// problemTypeBase prefixes problem type URIs; each code has an anchor there.
const problemTypeBase = "https://github.com/dealdesk/dealdesk/blob/main/docs/problems.md#"

// problemCodes maps every stable code to its HTTP status and title. The
// test suite checks that docs/problems.md documents each of them.
var problemCodes = map[string]struct {
	status int
	title  string
}{
	"bad_request":            {http.StatusBadRequest, "Bad request"},
	"invalid_json":           {http.StatusBadRequest, "Request body is not valid JSON"},
	"validation_failed":      {http.StatusBadRequest, "Request failed validation"},
	"unauthenticated":        {http.StatusUnauthorized, "Missing or unknown API key"},
	"key_revoked":            {http.StatusUnauthorized, "API key revoked"},
	"forbidden":              {http.StatusForbidden, "Not allowed for this key"},
	"not_found":              {http.StatusNotFound, "Not found"},
	"method_not_allowed":     {http.StatusMethodNotAllowed, "Method not allowed"},
	"conflict":               {http.StatusConflict, "Conflict"},
	"body_too_large":         {http.StatusRequestEntityTooLarge, "Request body too large"},
	"unsupported_media_type": {http.StatusUnsupportedMediaType, "Unsupported media type"},
	"rate_limited":           {http.StatusTooManyRequests, "Too many requests"},
	"unsupported_file_type":  {http.StatusUnsupportedMediaType, "Unsupported file type"},
	"empty_file":             {http.StatusBadRequest, "The file holds no text"},
	"corrupt_file":           {http.StatusUnprocessableEntity, "The file is corrupt"},
	"file_too_large":         {http.StatusRequestEntityTooLarge, "The file is too large"},
	"no_text_layer":          {http.StatusUnprocessableEntity, "The PDF has no text layer"},
	"invalid_metadata":       {http.StatusBadRequest, "Invalid document metadata"},
	"invalid_suite":          {http.StatusBadRequest, "The eval suite is invalid"},
	"feature_disabled":       {http.StatusForbidden, "Feature disabled for this tenant"},
	"model_output_invalid":   {http.StatusBadGateway, "The model's answer failed validation"},
	"model_unavailable":      {http.StatusBadGateway, "The model provider failed"},
	"model_timeout":          {http.StatusGatewayTimeout, "The model did not answer in time"},
	"internal":               {http.StatusInternalServerError, "Internal error"},
	"unavailable":            {http.StatusServiceUnavailable, "Service unavailable"},
	"timeout":                {http.StatusGatewayTimeout, "Request timed out"},
	"batch_too_large":        {http.StatusRequestEntityTooLarge, "Too many items in one batch"},
	"bad_mapping":            {http.StatusBadRequest, "The CSV does not fit the mapping"},
}

// newProblem builds a problem for a registered code.
func newProblem(code, detail string) *Problem {
	c, ok := problemCodes[code]
	if !ok {
		panic("api: unregistered problem code " + code)
	}
	return &Problem{Type: problemTypeBase + code, Title: c.title, Status: c.status, Detail: detail, Code: code}
}

func problemf(code, format string, args ...any) *Problem {
	return newProblem(code, fmt.Sprintf(format, args...))
}

// toProblem maps any error a handler returns to a problem, in one place.
func toProblem(err error) (p *Problem, internal bool) {
	var he *echo.HTTPError
	if ap, ok := assistantProblem(err); ok {
		return ap, false
	}
	if ep, ok := evalsProblem(err); ok {
		return ep, false
	}
	if fp, ok := feedbackProblem(err); ok {
		return fp, false
	}
	if sp, ok := suggestProblem(err); ok {
		return sp, false
	}
	if sp, ok := scoringProblem(err); ok {
		return sp, false
	}
	switch {
	case errors.As(err, &p):
		return p, false
	case errors.As(err, &he):
		return httpErrorProblem(he), he.Code >= 500
	case errors.Is(err, auth.ErrRevoked):
		return newProblem("key_revoked", "this API key has been revoked; ask an admin for a new one"), false
	case errors.Is(err, auth.ErrUnauthenticated):
		return newProblem("unauthenticated", "send a valid API key as 'Authorization: Bearer <key>'"), false
	case errors.Is(err, auth.ErrInvalid):
		return newProblem("validation_failed", err.Error()), false
	case errors.Is(err, auth.ErrNotFound), errors.Is(err, knowledge.ErrNotFound):
		return newProblem("not_found", err.Error()), false
	case errors.Is(err, auth.ErrConflict):
		return newProblem("conflict", err.Error()), false
	case errors.Is(err, context.DeadlineExceeded):
		return newProblem("timeout", "the request took longer than the server allows"), false
	case errors.Is(err, context.Canceled):
		return newProblem("unavailable", "the request was cancelled"), false
	case databaseUnavailable(err):
		// Logged (the operator must know), but not a bug: retry later.
		p := newProblem("unavailable", "the database is not available right now; retry later")
		p.RetryAfter = databaseRetryAfter
		return p, true
	}
	return newProblem("internal", "an internal error occurred; quote the request id when reporting it"), true
}

// databaseRetryAfter is the Retry-After (seconds) of a request that found
// the database unavailable.
const databaseRetryAfter = 5

// databaseUnavailable reports whether err is the database being out of
// reach or refusing work for now rather than a fault in the request or the
// code: no connection could be made or one broke mid-statement, the server
// is shutting down or starting (57P01-57P03), a connection failure (class
// 08) or insufficient resources (class 53: too many connections, out of
// memory or disk).
func databaseUnavailable(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "08") || strings.HasPrefix(pg.Code, "53") ||
			pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03"
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.ErrUnexpectedEOF)
}

func httpErrorProblem(he *echo.HTTPError) *Problem {
	detail := fmt.Sprint(he.Message)
	switch he.Code {
	case http.StatusNotFound:
		return newProblem("not_found", "no such route")
	case http.StatusMethodNotAllowed:
		return newProblem("method_not_allowed", "the route exists but not for this method")
	case http.StatusRequestEntityTooLarge:
		return newProblem("body_too_large", "the request body exceeds the server's limit")
	case http.StatusUnsupportedMediaType:
		return newProblem("unsupported_media_type", detail)
	case http.StatusUnauthorized:
		return newProblem("unauthenticated", detail)
	case http.StatusForbidden:
		return newProblem("forbidden", detail)
	case http.StatusTooManyRequests:
		return newProblem("rate_limited", detail)
	case http.StatusServiceUnavailable:
		return newProblem("unavailable", detail)
	}
	if he.Code >= 500 {
		return newProblem("internal", "an internal error occurred; quote the request id when reporting it")
	}
	return &Problem{Type: problemTypeBase + "bad_request", Title: http.StatusText(he.Code), Status: he.Code, Detail: detail, Code: "bad_request"}
}

// errorHandler writes every error as application/problem+json.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, internal := toProblem(err)
	p.RequestID = requestID(c)
	if internal {
		s.log.ErrorContext(c.Request().Context(), "request failed",
			slog.String("request_id", p.RequestID), slog.String("route", c.Path()), slog.Any("error", err))
	}
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="dealdesk"`)
	}
	if p.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(c.Response()).Encode(p)
}
