package api

import (
	"net/http"

	"github.com/dealdesk/dealdesk/auth"
)

// routeTable is every endpoint of the API. Registering a route anywhere else
// would leave it out of /openapi.json; TestOpenAPICoversEveryRoute checks.
func (s *Server) routeTable() []route {
	admin := []auth.Role{auth.RoleAdmin}
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

		{method: http.MethodPost, path: "/v1/keys", tag: "admin", roles: admin, summary: "Create an API key (the key is shown once)",
			handler: s.createKey, request: createKeyRequest{}, response: createKeyResponse{}, okStatus: http.StatusCreated},
		{method: http.MethodGet, path: "/v1/keys", tag: "admin", roles: admin, summary: "List the tenant's API keys",
			handler: s.listKeys, response: listKeysResponse{}},
		{method: http.MethodDelete, path: "/v1/keys/:id", tag: "admin", roles: admin, summary: "Revoke an API key",
			handler: s.revokeKey, response: auth.Key{}},
	}
}
