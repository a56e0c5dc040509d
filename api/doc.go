// Package api is DealDesk's HTTP interface: an Echo server with API-key
// authentication (tenant, role and regions), request ids, structured
// logging, panic recovery, body-size and per-key rate limits, CORS,
// Prometheus metrics, health checks, and RFC 9457 problem+json errors with
// stable codes.
//
// Every route is declared once in a table (routes.go) that both registers it
// with Echo and generates the OpenAPI document served at /openapi.json, so
// the document cannot drift from the router.
package api
