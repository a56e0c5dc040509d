package api

import (
	"net/http"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
)

// routeTable is every endpoint of the API. Registering a route anywhere else
// would leave it out of /openapi.json; TestOpenAPICoversEveryRoute checks.
func (s *Server) routeTable() []route {
	admin := []auth.Role{auth.RoleAdmin}
	writers := []auth.Role{auth.RoleAdmin, auth.RoleManager, auth.RoleRep, auth.RoleOps}
	curators := []auth.Role{auth.RoleAdmin, auth.RoleManager}
	return []route{
		{method: http.MethodGet, path: "/healthz", tag: "ops", public: true, summary: "Liveness: the process is up",
			handler: s.healthz, response: healthResponse{}},
		{method: http.MethodGet, path: "/readyz", tag: "ops", public: true, summary: "Readiness: the database answers and is migrated",
			handler: s.readyz, response: healthResponse{}},
		{method: http.MethodGet, path: "/metrics", tag: "ops", public: true, summary: "Prometheus metrics",
			handler: s.metricsHandler, contentType: "text/plain"},
		{method: http.MethodGet, path: "/openapi.json", tag: "ops", public: true, summary: "This OpenAPI document",
			handler: s.openAPIHandler, response: map[string]any{}},

		{method: http.MethodGet, path: "/v1/me", tag: "account", summary: "Who am I: tenant, role, regions and the model provider in use",
			handler: s.me, response: meResponse{}},

		{method: http.MethodPost, path: "/v1/documents", tag: "knowledge", roles: writers, upload: true,
			summary:     "Add or update a document",
			description: "multipart/form-data with a `file` part (PDF, DOCX, XLSX, CSV, Markdown, HTML, text) and optional fields kind, title, region, tags, source, metadata (JSON): the file is checked at once and queued, 202. Or a JSON text document: ingested at once, 201. Re-sending an unchanged document is a no-op; a changed one becomes a new version.",
			handler:     s.createDocument, request: textDocumentRequest{}, response: documentCreated{}, okStatus: http.StatusCreated,
			accepted: documentAccepted{}},
		{method: http.MethodGet, path: "/v1/documents", tag: "knowledge", summary: "List documents visible to the key, newest first",
			handler: s.listDocuments, response: documentList{}, query: []queryParam{
				{"kind", "string", "comma-separated kinds"}, {"region", "string", "comma-separated regions"},
				{"tag", "string", "comma-separated tags (any)"}, {"q", "string", "substring of title or source"},
				{"limit", "integer", "1-200, default 50"}, {"cursor", "string", "next_cursor of the previous page"},
			}},
		{method: http.MethodGet, path: "/v1/documents/:id", tag: "knowledge", summary: "Get a document",
			handler: s.getDocument, response: knowledge.Document{}},
		{method: http.MethodDelete, path: "/v1/documents/:id", tag: "knowledge", roles: curators, summary: "Delete a document and its chunks",
			handler: s.deleteDocument, okStatus: http.StatusNoContent},
		{method: http.MethodGet, path: "/v1/ingest-jobs/:id", tag: "knowledge", summary: "Progress and result of an upload",
			handler: s.getIngestJob, response: knowledge.Job{}},

		{method: http.MethodPost, path: "/v1/search", tag: "knowledge", summary: "Hybrid search over the knowledge the key may see",
			description: "Vector (HNSW, cosine) and lexical (segmented tsvector) search fused by reciprocal rank fusion. Filters and the key's regions and role are applied inside the database, so filtered searches still return k hits and nothing outside the key's scope can appear.",
			handler:     s.searchKnowledge, request: searchRequest{}, response: searchResponse{}},

		{method: http.MethodPost, path: "/v1/keys", tag: "admin", roles: admin, summary: "Create an API key (the key is shown once)",
			handler: s.createKey, request: createKeyRequest{}, response: createKeyResponse{}, okStatus: http.StatusCreated},
		{method: http.MethodGet, path: "/v1/keys", tag: "admin", roles: admin, summary: "List the tenant's API keys",
			handler: s.listKeys, response: listKeysResponse{}},
		{method: http.MethodDelete, path: "/v1/keys/:id", tag: "admin", roles: admin, summary: "Revoke an API key",
			handler: s.revokeKey, response: auth.Key{}},
	}
}
