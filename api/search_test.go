package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestSearchThroughAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	for _, doc := range []string{
		`{"title":"江宁区交流会","text":"王总说要等财政拨款，预算 610 万元。","kind":"meeting","region":"jiangsu"}`,
		`{"title":"光明区交流会","text":"光明区 IOC 项目也要等财政拨款，预算 960 万元。","kind":"meeting","region":"guangdong"}`,
		`{"title":"GovData 产品手册","text":"GovData 支持信创，财政拨款项目常用。","kind":"product"}`,
	} {
		if r := h.do("POST", "/v1/documents", h.admin.Secret, doc); r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	var res searchResponse
	r := h.do("POST", "/v1/search", h.admin.Secret, `{"query":"财政拨款 预算","k":5}`)
	r.json(t, &res)
	if r.status != 200 || len(res.Hits) != 3 || res.Mode != "hybrid" {
		t.Fatalf("admin search: %d %s", r.status, r.body)
	}
	hit := res.Hits[0]
	if hit.SourceID == "" || hit.Title == "" || hit.Snippet == "" || len(hit.Highlights) == 0 || (hit.Scores.Vector == nil && hit.Scores.Lexical == nil) {
		t.Fatalf("hit shape: %s", r.body)
	}
	// The jiangsu rep never sees the guangdong meeting, not even in a snippet.
	r = h.do("POST", "/v1/search", h.rep.Secret, `{"query":"光明区 960 万 财政拨款","k":10}`)
	if r.status != 200 || strings.Contains(string(r.body), "光明区") || strings.Contains(string(r.body), "IOC") {
		t.Fatalf("rep search leaked guangdong: %s", r.body)
	}
	r.json(t, &res)
	if len(res.Hits) != 2 {
		t.Fatalf("rep sees %d hits, want 2 (jiangsu + company-wide)", len(res.Hits))
	}
	// Filters narrow inside the database.
	r = h.do("POST", "/v1/search", h.admin.Secret, `{"query":"财政拨款","filters":{"kinds":["product"]},"mode":"lexical"}`)
	r.json(t, &res)
	if len(res.Hits) != 1 || res.Hits[0].Kind != "product" {
		t.Fatalf("kind filter: %s", r.body)
	}
	// Another tenant finds nothing.
	r = h.do("POST", "/v1/search", h.otherK.Secret, `{"query":"财政拨款"}`)
	r.json(t, &res)
	if len(res.Hits) != 0 {
		t.Fatalf("other tenant sees %d hits", len(res.Hits))
	}
}

func TestSearchBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	for _, body := range []string{
		`{"query":""}`, `{"query":"x","k":500}`, `{"query":"x","mode":"fuzzy"}`, `{"query":"x","diversity":2}`,
		`{"query":"x","filters":{"from":"yesterday"}}`, `{"query":"x","filters":{"kinds":["memo"]}}`,
		`{"query":"x","filters":{"document_ids":["nope"]}}`, `{"query":"` + strings.Repeat("长", 2001) + `"}`,
	} {
		h.do("POST", "/v1/search", h.rep.Secret, body).problem(t, 400, "validation_failed")
	}
	h.do("POST", "/v1/search", "", `{"query":"x"}`).problem(t, 401, "unauthenticated")
}
