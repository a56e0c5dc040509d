package api

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/retrieval"
)

type searchFilters struct {
	Kinds       []string    `json:"kinds,omitempty"`
	Regions     []string    `json:"regions,omitempty"`
	Industries  []string    `json:"industries,omitempty"`
	Customers   []string    `json:"customers,omitempty"`
	Tags        []string    `json:"tags,omitempty" doc:"documents with any of these tags"`
	DocumentIDs []uuid.UUID `json:"document_ids,omitempty"`
	From        string      `json:"from,omitempty" doc:"YYYY-MM-DD: documents dated on or after"`
	To          string      `json:"to,omitempty" doc:"YYYY-MM-DD: documents dated on or before"`
}

type searchRequest struct {
	Query     string        `json:"query"`
	K         int           `json:"k,omitempty" doc:"hits wanted, 1-100, default 10"`
	Mode      string        `json:"mode,omitempty" doc:"hybrid (default), vector or lexical"`
	Diversity float64       `json:"diversity,omitempty" doc:"0-1: re-rank with MMR for varied hits"`
	Filters   searchFilters `json:"filters,omitzero"`
}

type searchResponse struct {
	Hits     []retrieval.Hit `json:"hits"`
	Mode     retrieval.Mode  `json:"mode"`
	Degraded []string        `json:"degraded,omitempty" doc:"arms left out because they ran out of time"`
	// VectorSearch is how the vector arm searched.
	VectorSearch string  `json:"vector_search,omitempty" doc:"exact (every distance, for a tenant with few chunks) or hnsw (the approximate index); absent in lexical mode"`
	TookMS       float64 `json:"took_ms"`
}

func (s *Server) searchKnowledge(c echo.Context) error {
	var req searchRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	mode, err := retrieval.ParseMode(req.Mode)
	if err != nil {
		return validation("mode", "must be hybrid, vector or lexical")
	}
	if len([]rune(req.Query)) > 2000 {
		return validation("query", "must be at most 2000 characters")
	}
	for _, k := range req.Filters.Kinds {
		if _, err := knowledge.ParseKind(k); err != nil {
			return validation("filters.kinds", err.Error())
		}
	}
	f := retrieval.Filters{Kinds: req.Filters.Kinds, Regions: req.Filters.Regions, Industries: req.Filters.Industries,
		Customers: req.Filters.Customers, Tags: req.Filters.Tags, DocumentIDs: req.Filters.DocumentIDs}
	if f.From, err = optionalDay("filters.from", req.Filters.From); err != nil {
		return err
	}
	if f.To, err = optionalDay("filters.to", req.Filters.To); err != nil {
		return err
	}
	res, err := s.search.Search(c.Request().Context(), retrieval.Query{
		Text: req.Query, Scope: scope(principal(c)), Filters: f, K: req.K, Mode: mode, Diversity: req.Diversity,
	})
	if errors.Is(err, retrieval.ErrInvalidQuery) {
		return newProblem("validation_failed", err.Error())
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, searchResponse{Hits: res.Hits, Mode: res.Mode, Degraded: res.Degraded, VectorSearch: res.VectorSearch,
		TookMS: float64(res.Took.Microseconds()) / 1000})
}
