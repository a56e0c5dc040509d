package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/evals"
	"github.com/dealdesk/dealdesk/feedback"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store/storetest"
)

type harness struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	auth   *auth.Service
	tenant auth.Tenant
	other  auth.Tenant
	admin  auth.NewKey // tenant admin
	rep    auth.NewKey // tenant rep, regions jiangsu
	otherK auth.NewKey // other tenant admin
	db     *storetest.DB
	kstore *knowledge.Store
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	return newHarnessWith(t, cfg, providers.Config{})
}

// newHarnessWith is newHarness with a model configuration (a fake
// OpenAI-compatible server, for instance).
func newHarnessWith(t *testing.T, cfg Config, mcfg providers.Config) *harness {
	t.Helper()
	ctx := context.Background()
	db := storetest.New(t)
	srv, svc, kstore := newServer(t, db.Pool, cfg, mcfg)
	h := &harness{t: t, srv: srv, auth: svc, db: db, kstore: kstore}
	h.tenant = must(svc.CreateTenant(ctx, "acme", "Acme"))(t)
	h.other = must(svc.CreateTenant(ctx, "globex", "Globex"))(t)
	h.admin = must(svc.CreateKey(ctx, h.tenant.ID, auth.KeySpec{Name: "admin", Role: auth.RoleAdmin}))(t)
	h.rep = must(svc.CreateKey(ctx, h.tenant.ID, auth.KeySpec{Name: "rep", Role: auth.RoleRep, Regions: []string{"jiangsu"}}))(t)
	h.otherK = must(svc.CreateKey(ctx, h.other.ID, auth.KeySpec{Name: "other admin", Role: auth.RoleAdmin}))(t)
	h.http = httptest.NewServer(srv.Handler())
	t.Cleanup(h.http.Close)
	return h
}

// newServer builds the API server over pool as serve does (key cache
// included), with models from mcfg.
func newServer(t *testing.T, pool *pgxpool.Pool, cfg Config, mcfg providers.Config) (*Server, *auth.Service, *knowledge.Store) {
	t.Helper()
	svc := auth.NewService(pool).CacheKeys(auth.DefaultKeyCacheTTL) // as serve runs it
	models, err := providers.New(context.Background(), mcfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Migrate.EmbedDim = storetest.EmbedDim
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	kstore := knowledge.NewStore(pool, models.Embedder, knowledge.StoreOptions{Logger: logger})
	queue := knowledge.NewQueue(pool, kstore, logger)
	searcher := retrieval.NewSearcher(pool, models.Embedder, retrieval.Config{})
	registry, err := prompts.Load()
	if err != nil {
		t.Fatal(err)
	}
	tasks := assistant.New(pool, searcher, models, registry, assistant.Config{}, logger)
	srv, err := New(cfg, Deps{DB: pool, Auth: svc, Models: models, Knowledge: kstore, Queue: queue, Searcher: searcher,
		Assistant: tasks, Feedback: feedback.NewService(pool), Logger: logger,
		Evals: evals.NewService(evals.Deps{Assistant: tasks, Models: models, Knowledge: kstore}, pool, 0, logger)})
	if err != nil {
		t.Fatal(err)
	}
	return srv, svc, kstore
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes a problem+json answer and checks its shape.
func (r response) problem(t *testing.T, status int, code string) Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type = %q, want application/problem+json", ct)
	}
	var p Problem
	r.json(t, &p)
	if p.Code != code || p.Status != status || p.Title == "" || p.Type != problemTypeBase+code {
		t.Fatalf("problem = %+v, want code %s", p, code)
	}
	if p.RequestID == "" || p.RequestID != r.header.Get(echo.HeaderXRequestID) {
		t.Fatalf("problem request id %q, header %q", p.RequestID, r.header.Get(echo.HeaderXRequestID))
	}
	return p
}

func (h *harness) do(method, path, key, body string, hdr ...string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.http.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	if r := h.do("GET", "/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz = %d %s", r.status, r.body)
	}
	r := h.do("GET", "/readyz", "", "")
	var body healthResponse
	r.json(t, &body)
	if r.status != 200 || body.Checks["database"] != "ok" || body.Checks["migrations"] != "ok" {
		t.Fatalf("readyz = %d %s", r.status, r.body)
	}
}

func TestReadinessFailsWhenDatabaseIsGone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.srv.db.Close()
	r := h.do("GET", "/readyz", "", "")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "unreachable") {
		t.Fatalf("readyz with closed pool = %d %s", r.status, r.body)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})

	r := h.do("GET", "/v1/me", "", "")
	r.problem(t, 401, "unauthenticated")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: %v", r.header)
	}
	h.do("GET", "/v1/me", "ddk_not-a-real-key", "").problem(t, 401, "unauthenticated")
	h.do("GET", "/v1/me", "", "", "Authorization", "Basic YTpi").problem(t, 401, "unauthenticated")

	r = h.do("GET", "/v1/me", h.rep.Secret, "")
	if r.status != 200 {
		t.Fatalf("me = %d %s", r.status, r.body)
	}
	var me meResponse
	r.json(t, &me)
	if me.TenantSlug != "acme" || me.Role != auth.RoleRep || len(me.Regions) != 1 || me.Regions[0] != "jiangsu" {
		t.Fatalf("me = %+v", me)
	}
	if me.Model.Provider != providers.ProviderOffline || !me.Model.Offline || me.Model.Label == "" {
		t.Fatalf("me.model = %+v, want the labelled offline provider", me.Model)
	}
	// X-API-Key works too, for plugins that cannot set Authorization.
	if r := h.do("GET", "/v1/me", "", "", "X-API-Key", h.rep.Secret); r.status != 200 {
		t.Fatalf("X-API-Key: %d %s", r.status, r.body)
	}
}

func TestKeyLifecycleThroughAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})

	r := h.do("POST", "/v1/keys", h.admin.Secret, `{"name":"crm","role":"plugin","regions":["Zhejiang"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	var created createKeyResponse
	r.json(t, &created)
	if !strings.HasPrefix(created.Secret, "ddk_") || created.Role != auth.RolePlugin || created.Regions[0] != "zhejiang" {
		t.Fatalf("created = %+v", created)
	}
	if r := h.do("GET", "/v1/me", created.Secret, ""); r.status != 200 {
		t.Fatalf("new key refused: %d %s", r.status, r.body)
	}

	r = h.do("GET", "/v1/keys", h.admin.Secret, "")
	var list listKeysResponse
	r.json(t, &list)
	if len(list.Keys) != 3 || strings.Contains(string(r.body), created.Secret) {
		t.Fatalf("list = %s", r.body)
	}

	if r := h.do("DELETE", "/v1/keys/"+created.ID.String(), h.admin.Secret, ""); r.status != 200 {
		t.Fatalf("revoke = %d %s", r.status, r.body)
	}
	h.do("GET", "/v1/me", created.Secret, "").problem(t, 401, "key_revoked")
}

func TestTenantsAreIsolatedThroughAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	// Tenant acme's admin cannot revoke, or even find, globex's key.
	h.do("DELETE", "/v1/keys/"+h.otherK.ID.String(), h.admin.Secret, "").problem(t, 404, "not_found")
	if r := h.do("GET", "/v1/me", h.otherK.Secret, ""); r.status != 200 {
		t.Fatalf("globex key broken by acme: %d", r.status)
	}
	var list listKeysResponse
	h.do("GET", "/v1/keys", h.otherK.Secret, "").json(t, &list)
	if len(list.Keys) != 1 || list.Keys[0].ID != h.otherK.ID {
		t.Fatalf("globex sees keys %+v", list.Keys)
	}
}

func TestRolesAreEnforced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.do("POST", "/v1/keys", h.rep.Secret, `{"role":"admin"}`).problem(t, 403, "forbidden")
	h.do("GET", "/v1/keys", h.rep.Secret, "").problem(t, 403, "forbidden")
	h.do("DELETE", "/v1/keys/"+h.admin.ID.String(), h.rep.Secret, "").problem(t, 403, "forbidden")
}

func TestBadInputGetsProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{BodyLimit: "2K"})
	key := h.admin.Secret
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"malformed json", "POST", "/v1/keys", `{"role":`, nil, 400, "invalid_json"},
		{"empty body", "POST", "/v1/keys", ``, []string{"Content-Type", "application/json"}, 400, "invalid_json"},
		{"trailing data", "POST", "/v1/keys", `{"role":"rep"} {}`, nil, 400, "invalid_json"},
		{"wrong type", "POST", "/v1/keys", `{"role":7}`, nil, 400, "validation_failed"},
		{"unknown field", "POST", "/v1/keys", `{"role":"rep","admin":true}`, nil, 400, "validation_failed"},
		{"unknown role", "POST", "/v1/keys", `{"role":"root"}`, nil, 400, "validation_failed"},
		{"bad region", "POST", "/v1/keys", `{"role":"rep","regions":["a b"]}`, nil, 400, "validation_failed"},
		{"wrong media type", "POST", "/v1/keys", `role=rep`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"too large", "POST", "/v1/keys", `{"name":"` + strings.Repeat("x", 4096) + `","role":"rep"}`, nil, 413, "body_too_large"},
		{"bad uuid", "DELETE", "/v1/keys/not-a-uuid", "", nil, 400, "validation_failed"},
		{"unknown key id", "DELETE", "/v1/keys/00000000-0000-0000-0000-000000000001", "", nil, 404, "not_found"},
		{"no route", "GET", "/v1/nope", "", nil, 404, "not_found"},
		{"wrong method", "PUT", "/v1/me", "", nil, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, key, tt.body, tt.hdr...)
			p := r.problem(t, tt.status, tt.code)
			if p.Detail == "" {
				t.Errorf("problem without detail: %+v", p)
			}
		})
	}
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{RateLimit: 0.5, RateBurst: 2})
	for i := 0; i < 2; i++ {
		if r := h.do("GET", "/v1/me", h.rep.Secret, ""); r.status != 200 {
			t.Fatalf("request %d within burst: %d", i, r.status)
		}
	}
	r := h.do("GET", "/v1/me", h.rep.Secret, "")
	p := r.problem(t, 429, "rate_limited")
	if r.header.Get("Retry-After") != "2" || p.RetryAfter != 2 {
		t.Fatalf("Retry-After = %q / %d, want 2", r.header.Get("Retry-After"), p.RetryAfter)
	}
	// Another key has its own bucket.
	if r := h.do("GET", "/v1/me", h.admin.Secret, ""); r.status != 200 {
		t.Fatalf("other key limited too: %d", r.status)
	}
}

func TestPanicsBecomeProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.srv.echo.GET("/boom", func(echo.Context) error { panic("kaboom") })
	p := h.do("GET", "/boom", "", "").problem(t, 500, "internal")
	if strings.Contains(p.Detail, "kaboom") {
		t.Fatalf("panic value leaked to the client: %q", p.Detail)
	}
	// The server keeps serving.
	if r := h.do("GET", "/healthz", "", ""); r.status != 200 {
		t.Fatalf("after panic: %d", r.status)
	}
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	r := h.do("GET", "/healthz", "", "", echo.HeaderXRequestID, "crm-123.abc")
	if got := r.header.Get(echo.HeaderXRequestID); got != "crm-123.abc" {
		t.Fatalf("request id = %q, want the caller's", got)
	}
	r = h.do("GET", "/healthz", "", "", echo.HeaderXRequestID, "bad id with spaces")
	if got := r.header.Get(echo.HeaderXRequestID); got == "" || strings.Contains(got, " ") {
		t.Fatalf("malformed request id kept: %q", got)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{CORSOrigins: []string{"https://crm.example.com"}})
	r := h.do("OPTIONS", "/v1/me", "", "", "Origin", "https://crm.example.com", "Access-Control-Request-Method", "GET")
	if r.header.Get("Access-Control-Allow-Origin") != "https://crm.example.com" {
		t.Fatalf("preflight headers = %v", r.header)
	}
	r = h.do("OPTIONS", "/v1/me", "", "", "Origin", "https://evil.example.com", "Access-Control-Request-Method", "GET")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin allowed: %v", r.header)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.loadDemo()
	h.do("GET", "/v1/me", h.rep.Secret, "")
	h.generate(h.rep.Secret, "/v1/objections", `{"objection":"太贵了"}`)
	// Refused before any model: counted as a request, not a generation.
	h.do("POST", "/v1/objections", h.rep.Secret, `{}`).problem(t, 400, "validation_failed")
	r := h.do("GET", "/metrics", "", "")
	for _, want := range []string{
		`dealdesk_http_requests_total{code="200",method="GET",route="/v1/me"} 1`,
		`dealdesk_http_requests_total{code="400",method="POST",route="/v1/objections"} 1`,
		`dealdesk_generations_total{outcome="ok",prompt="objection@v1",provider="offline",task="objection"} 1`,
	} {
		if r.status != 200 || !strings.Contains(string(r.body), want) {
			t.Fatalf("metrics lack %s:\n%s", want, r.body)
		}
	}
	if strings.Contains(string(r.body), `outcome="failed"`) {
		t.Fatalf("a refused request was counted as a failed generation:\n%s", r.body)
	}
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	h.do("GET", "/openapi.json", "", "").json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	n := 0
	for _, r := range h.srv.echo.Routes() {
		if r.Method == echo.RouteNotFound || strings.HasPrefix(r.Name, "echo_") {
			continue
		}
		n++
		path, _ := openAPIPath(r.Path)
		op, ok := doc.Paths[path][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("route %s %s is not in /openapi.json", r.Method, r.Path)
			continue
		}
		if op["summary"] == "" || op["responses"] == nil || op["operationId"] == "" {
			t.Errorf("route %s %s is documented without summary, responses or operationId", r.Method, r.Path)
		}
	}
	if documented := countOps(doc.Paths); documented != n {
		t.Errorf("document has %d operations, router %d", documented, n)
	}
}

func countOps(paths map[string]map[string]map[string]any) int {
	n := 0
	for _, ops := range paths {
		n += len(ops)
	}
	return n
}

func TestEveryProblemCodeIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/problems.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, c := range problemCodes {
		if !strings.Contains(string(doc), fmt.Sprintf("### %s", code)) {
			t.Errorf("docs/problems.md lacks a section for %s (%d)", code, c.status)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.srv.cfg.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not shut down")
	}
}
