package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/store"
)

// scope is the caller's view of its tenant, applied by PostgreSQL too.
func scope(p auth.Principal) store.Scope {
	return store.Scope{Tenant: p.TenantID, Regions: p.Regions, Role: string(p.Role), KeyID: p.KeyID}
}

type textDocumentRequest struct {
	Title  string   `json:"title"`
	Text   string   `json:"text"`
	Kind   string   `json:"kind"`
	Region string   `json:"region,omitempty"`
	Tags   []string `json:"tags,omitempty"`
	// Source is the document's identity for re-ingest; default: the title.
	Source string `json:"source,omitempty" doc:"identity for re-ingest; default derived from the title"`
	// Format is "text" (default) or "markdown".
	Format   string             `json:"format,omitempty" doc:"text (default) or markdown"`
	Metadata knowledge.Metadata `json:"metadata,omitzero" doc:"any other metadata: industry, customer, date, access, deal"`
}

type documentAccepted struct {
	JobID      string `json:"job_id"`
	DocumentID string `json:"document_id"`
	Status     string `json:"status"`
	StatusURL  string `json:"status_url"`
}

type documentCreated struct {
	knowledge.Result
	Document knowledge.Document `json:"document"`
}

type documentList struct {
	Documents  []knowledge.Document `json:"documents"`
	NextCursor string               `json:"next_cursor"`
}

// createDocument takes a multipart upload (queued as a job: 202) or a JSON
// text document (ingested at once: 201).
func (s *Server) createDocument(c echo.Context) error {
	p := principal(c)
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if strings.HasPrefix(ct, echo.MIMEMultipartForm) {
		return s.uploadDocument(c, p)
	}
	var req textDocumentRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Title) == "" {
		return validation("title", "is required")
	}
	if strings.TrimSpace(req.Text) == "" {
		return validation("text", "is required")
	}
	meta := req.Metadata
	meta.Title, meta.Region, meta.Source = req.Title, firstNonEmpty(req.Region, meta.Region), firstNonEmpty(req.Source, meta.Source)
	if req.Kind != "" {
		k, err := knowledge.ParseKind(req.Kind)
		if err != nil {
			return validation("kind", err.Error())
		}
		meta.Kind = k
	}
	if len(req.Tags) > 0 {
		meta.Tags = req.Tags
	}
	ext := ".txt"
	switch req.Format {
	case "", "text":
	case "markdown", "md":
		ext = ".md"
	default:
		return validation("format", "must be text or markdown")
	}
	if meta.Source == "" {
		meta.Source = "api/" + slug(req.Title) + ext
	}
	in := knowledge.Input{Name: meta.Source, Data: []byte(req.Text), Meta: meta}
	if path.Ext(in.Name) == "" {
		in.Name += ext // the loader reads the format from the extension
	}
	if err := s.checkUpload(c, p, in); err != nil {
		return err
	}
	res, err := s.knowledge.Ingest(c.Request().Context(), p.TenantID, in, nil)
	if err != nil {
		return ingestProblem(err)
	}
	doc, err := s.knowledge.Get(c.Request().Context(), scope(p), res.DocumentID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, documentCreated{Result: res, Document: doc})
}

func (s *Server) uploadDocument(c echo.Context, p auth.Principal) error {
	fh, err := c.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newProblem("body_too_large", "the upload exceeds the server's limit (DEALDESK_UPLOAD_LIMIT)")
		}
		return validation("file", "send the document as a multipart part named 'file'")
	}
	f, err := fh.Open()
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	var meta knowledge.Metadata
	if raw := c.FormValue("metadata"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &meta); err != nil {
			return validation("metadata", "must be a JSON object: "+err.Error())
		}
	}
	if k := c.FormValue("kind"); k != "" {
		kind, err := knowledge.ParseKind(k)
		if err != nil {
			return validation("kind", err.Error())
		}
		meta.Kind = kind
	}
	meta.Title = firstNonEmpty(c.FormValue("title"), meta.Title)
	meta.Region = firstNonEmpty(c.FormValue("region"), meta.Region)
	meta.Source = firstNonEmpty(c.FormValue("source"), meta.Source)
	if tags := c.FormValue("tags"); tags != "" {
		meta.Tags = splitList(tags)
	}
	name := path.Base(strings.ReplaceAll(fh.Filename, `\`, "/"))
	if name == "." || name == "/" || name == "" {
		return validation("file", "the part needs a file name")
	}
	in := knowledge.Input{Name: name, Data: data, Meta: meta}
	if err := s.checkUpload(c, p, in); err != nil {
		return err
	}
	job, err := s.queue.Enqueue(c.Request().Context(), p.TenantID, in, "key:"+p.KeyID.String())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, documentAccepted{
		JobID: job.ID.String(), DocumentID: job.DocumentID.String(), Status: string(job.Status),
		StatusURL: "/v1/ingest-jobs/" + job.ID.String(),
	})
}

// checkUpload parses the file now, so a broken or unsupported file is
// refused in the response rather than in a failed job, and keeps
// region-limited callers inside their regions.
func (s *Server) checkUpload(c echo.Context, p auth.Principal, in knowledge.Input) error {
	_, meta, err := s.knowledge.Validate(c.Request().Context(), in)
	if err != nil {
		return ingestProblem(err)
	}
	if len(p.Regions) > 0 {
		if meta.Region == "" || !slices.Contains(p.Regions, meta.Region) {
			return problemf("forbidden", "this key may only add documents of regions %s; set region to one of them", strings.Join(p.Regions, ", "))
		}
		for _, r := range meta.Access.Regions {
			if !slices.Contains(p.Regions, r) {
				return problemf("forbidden", "access region %q is outside this key's regions", r)
			}
		}
	}
	return nil
}

// ingestProblem maps a knowledge error to its problem.
func ingestProblem(err error) error {
	code := knowledge.ErrorCode(err)
	if code == "ingest_failed" {
		return err
	}
	return newProblem(code, err.Error())
}

func (s *Server) listDocuments(c echo.Context) error {
	q := c.QueryParams()
	f := knowledge.ListFilter{Regions: splitList(q.Get("region")), Tags: splitList(q.Get("tag")), Query: q.Get("q"), Cursor: q.Get("cursor")}
	for _, k := range splitList(q.Get("kind")) {
		kind, err := knowledge.ParseKind(k)
		if err != nil {
			return validation("kind", err.Error())
		}
		f.Kinds = append(f.Kinds, kind)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return validation("limit", "must be a number from 1 to 200")
		}
		f.Limit = n
	}
	docs, next, err := s.knowledge.List(c.Request().Context(), scope(principal(c)), f)
	if errors.Is(err, knowledge.ErrBadCursor) {
		return validation("cursor", "is not a cursor this server issued")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, documentList{Documents: docs, NextCursor: next})
}

func (s *Server) getDocument(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	doc, err := s.knowledge.Get(c.Request().Context(), scope(principal(c)), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, doc)
}

func (s *Server) deleteDocument(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	if err := s.knowledge.Delete(c.Request().Context(), scope(principal(c)), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getIngestJob(c echo.Context) error {
	id, err := pathUUID(c, "id")
	if err != nil {
		return err
	}
	job, err := s.queue.Get(c.Request().Context(), principal(c).TenantID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, job)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// slug makes a file-name-safe identity from a title, keeping CJK text.
func slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r == '/' || r == '\\' || r == '.' || r < ' ' || strings.ContainsRune(` "'<>|:*?#%&`, r):
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		default:
			b.WriteRune(r)
			dash = false
		}
	}
	s := strings.Trim(b.String(), "-")
	if len([]rune(s)) > 80 {
		s = string([]rune(s)[:80])
	}
	if s == "" {
		s = "untitled"
	}
	return s
}
