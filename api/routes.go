package api

import (
	"net/http"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/evals"
	"github.com/dealdesk/dealdesk/feedback"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/scoring"
	"github.com/dealdesk/dealdesk/suggest"
)

// routeTable is every endpoint of the API. Registering a route anywhere else
// would leave it out of /openapi.json; TestOpenAPICoversEveryRoute checks.
func (s *Server) routeTable() []route {
	admin := []auth.Role{auth.RoleAdmin}
	writers := []auth.Role{auth.RoleAdmin, auth.RoleManager, auth.RoleRep, auth.RoleOps}
	curators := []auth.Role{auth.RoleAdmin, auth.RoleManager}
	askers := []auth.Role{auth.RoleAdmin, auth.RoleManager, auth.RoleRep, auth.RolePlugin, auth.RoleOps}
	promptOps := []auth.Role{auth.RoleAdmin, auth.RoleOps}
	reviewers := []auth.Role{auth.RoleAdmin, auth.RoleManager, auth.RoleOps}
	promoters := reviewers
	stream := " With `Accept: text/event-stream` the answer streams as server-sent events: one `start` event (generation_id, model and the retrieved sources) once retrieval is done, `token` events with the model's text as it comes, `repair` when a corrected answer follows, then one `result` event with the body described here (or an `error` event with a problem)."
	taskNote := " The task's own fields (see its output schema in GET /v1/prompts) sit at the top level beside generation_id, sources (what was retrieved, with `cited`), model (provider, name, prompt version; `offline: true` for the offline composer), checks (citation verification, uncited claims, personal data masked) and usage."
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

		{method: http.MethodPost, path: "/v1/drafts/email", tag: "assistant", roles: askers, summary: "Draft a customer email grounded in the knowledge base",
			description: "purpose (first_contact, follow_up, proposal, objection_reply, win_back), customer, recipient, deal context, tone, language and length in; subject, body, rationale and citations out." + taskNote + stream,
			handler:     s.draftEmail, request: assistant.EmailDraftRequest{}, response: taskResponse{}},
		{method: http.MethodPost, path: "/v1/notes/meeting", tag: "assistant", roles: askers, summary: "Turn a meeting transcript into notes and CRM fields",
			description: "Summary, key points, sentiment per party, decisions, action items (owner, due date), risks, competitors mentioned and CRM fields (budget amount and source, decision cycle, decision makers, next step, stage hint), each with the verbatim transcript span it came from." + taskNote + stream,
			handler:     s.meetingNotes, request: assistant.MeetingNotesRequest{}, response: taskResponse{}},
		{method: http.MethodPost, path: "/v1/talk-tracks", tag: "assistant", roles: askers, summary: "Build a talk-track pack for a customer",
			description: "Policy-fit points from regional policy notes, competitor weaknesses from competitor notes and lost/won deals, decision-maker interests by role, opening lines, proof points from similar won deals and likely objections with answers; every point cites its sources." + taskNote + stream,
			handler:     s.talkTrack, request: assistant.TalkTrackRequest{}, response: taskResponse{}},
		{method: http.MethodPost, path: "/v1/objections", tag: "assistant", roles: askers, summary: "Ranked responses to a customer objection, with evidence",
			description: "Evidence from won deals and playbooks." + taskNote + stream,
			handler:     s.objection, request: assistant.ObjectionRequest{}, response: taskResponse{}},
		{method: http.MethodPost, path: "/v1/tenders/analyze", tag: "assistant", roles: askers, summary: "Analyse a tender against our product sheets",
			description: "Tender text, or the document_id of an ingested tender, in; qualification requirements, technical parameters compared line by line with our product sheets (meets / partly / fails / unknown, with sources), scoring criteria, deadlines, deposit and risks out." + taskNote + stream,
			handler:     s.analyzeTender, request: assistant.TenderRequest{}, response: taskResponse{}},
		{method: http.MethodPost, path: "/v1/intel/extract", tag: "assistant", roles: askers, summary: "Extract competitive intel from any text",
			description: "Competitors, their products, prices and claims, each with the span of the text it came from." + taskNote + stream,
			handler:     s.competitiveIntel, request: assistant.IntelRequest{}, response: taskResponse{}},
		{method: http.MethodPost, path: "/v1/suggestions", tag: "assistant", roles: askers, summary: "Next-best suggestions for a CRM record: an email to send, a talk track, an objection to prepare, a risk to address",
			description: "One call per CRM page view. Each suggestion comes from an assistant task (with its generation_id, output and cited sources) or, for risks, from the opportunity's score and activity. Answers are cached per record version (`X-Cache: hit`): send the CRM's version or last-modified time as record.version, and a changed record gets fresh suggestions.",
			handler:     s.suggestions, request: suggest.Request{}, response: suggest.Response{}},
		{method: http.MethodGet, path: "/v1/generations", tag: "assistant", summary: "The generations the key can see, newest first (to find one for feedback)",
			handler: s.listGenerations, response: generationList{}, query: []queryParam{
				{"task", "string", "only this task"}, {"status", "string", "only this status: running, ok or failed"},
				{"limit", "integer", "1-200, default 50"},
				{"before", "string", "RFC 3339 time: next_before of the previous page"},
			}},
		{method: http.MethodGet, path: "/v1/generations/:id", tag: "assistant", summary: "A stored generation: masked input and output, sources, prompt version, model, tokens, latency, caller and audit trail",
			description: "Admins and ops see every generation of the tenant, managers those made in their regions, reps and plugins their own key's. Personal data stays masked.",
			handler:     s.getGeneration, response: assistant.Record{}},
		{method: http.MethodPost, path: "/v1/feedback", tag: "feedback", roles: askers, summary: "A rep's verdict on a generation: accepted, edited (with the correction) or rejected (with reasons)",
			description: "Idempotent per rep and generation: sending again updates the rep's feedback (200) instead of adding one (201). The correction is stored masked, with its edit distance and changed spans against the answer. Only generations the key can see take feedback.",
			handler:     s.giveFeedback, request: feedback.Input{}, response: feedbackResponse{}, okStatus: http.StatusCreated},
		{method: http.MethodGet, path: "/v1/feedback/stats", tag: "feedback", roles: reviewers, summary: "Adoption and correction rates and rejection reasons, by task, prompt version, model, region or week",
			handler: s.feedbackStats, response: feedback.Stats{}, query: []queryParam{
				{"by", "string", "comma-separated: task, prompt_version, model, region, week (default task,prompt_version)"},
				{"task", "string", "only this task"}, {"from", "string", "YYYY-MM-DD"}, {"to", "string", "YYYY-MM-DD (exclusive)"},
			}},
		{method: http.MethodPost, path: "/v1/feedback/:id/promote", tag: "feedback", roles: promoters, summary: "Turn an accepted or corrected answer into a playbook document, with its provenance",
			handler: s.promoteFeedback, request: promoteRequest{}, response: knowledge.Result{}, okStatus: http.StatusCreated},
		{method: http.MethodPost, path: "/v1/evals/runs", tag: "evals", roles: promptOps, summary: "Start an eval suite run (202); it runs in the background",
			description: "A bundled suite by name, or a suite as YAML, run in the key's tenant as an ops caller, optionally pinned to one prompt version and gated against a baseline run (thresholds from the suite). Poll GET /v1/evals/runs/{id} until status is passed, failed or error.",
			handler:     s.startEvalRun, request: evalRunRequest{}, response: evalRunAccepted{}, okStatus: http.StatusAccepted},
		{method: http.MethodGet, path: "/v1/evals/runs/:id", tag: "evals", roles: reviewers, summary: "An eval run: status, metrics, gate and per-case results",
			handler: s.getEvalRun, response: evals.Result{}},
		{method: http.MethodGet, path: "/v1/prompts", tag: "prompts", summary: "Prompt templates with their versions, output schemas and this tenant's policy",
			handler: s.listPrompts, response: promptList{}},
		{method: http.MethodPut, path: "/v1/prompts/:name/active", tag: "prompts", roles: promptOps, summary: "Pin a prompt version, follow the latest, or split traffic A/B",
			description: "version 0 follows the latest non-draft version; candidate and candidate_share send that share of requests (by a stable hash of the request) to a second version. Audited.",
			handler:     s.setPrompt, request: setPromptRequest{}, response: assistant.PromptState{}},
		{method: http.MethodPost, path: "/v1/opportunities", tag: "scoring", roles: askers, summary: "Add or update an opportunity (upsert by external CRM id)",
			description: "201 when new, 200 when the external id existed. Closing outcomes (won/lost) count toward automatic retraining. A key limited to regions can only write opportunities of those regions.",
			handler:     s.upsertOpportunity, request: scoring.Opportunity{}, response: opportunityResponse{}, okStatus: http.StatusCreated},
		{method: http.MethodPost, path: "/v1/opportunities/import", tag: "scoring", roles: promptOps, upload: true, summary: "Import opportunities from a CSV export",
			description: "multipart/form-data: `file` (CSV), `mapping` (generic: columns named like the opportunity fields; lead-scoring; crm-opportunities, with parts products, accounts, sales_teams), `keep_post_outcome` (import columns filled in after the outcome; off by default). Good rows are upserted, bad rows listed in `errors` with their line.",
			handler:     s.importOpportunities, response: scoring.ImportResult{}},
		{method: http.MethodPost, path: "/v1/opportunities/score", tag: "scoring", roles: askers, summary: "Win probability of one opportunity, with factors, similar won deals, next actions and risk",
			description: "Send `external_id` (stored) or `opportunity` (inline). Factors are exact: base log-odds plus every factor's contribution equals the score's log-odds. Every score is recorded with the model version that computed it (version 0: built-in cold-start rules).",
			handler:     s.scoreOpportunity, request: scoring.Request{}, response: scoring.Score{}},
		{method: http.MethodPost, path: "/v1/opportunities/score\\:batch", tag: "scoring", roles: askers, summary: "Score up to 1,000 opportunities in one call",
			description: "More than 1,000 is `batch_too_large` (413). Similar won deals only with `similar: true`.",
			handler:     s.scoreBatch, request: batchScoreRequest{}, response: batchScoreResponse{}},
		{method: http.MethodGet, path: "/v1/scoring/model", tag: "scoring", summary: "The active scoring model and its held-out metrics (AUC, Brier, calibration table, baseline), and every version",
			handler: s.scoringModel, response: scoringModelResponse{}},
		{method: http.MethodGet, path: "/v1/features", tag: "admin", summary: "Which assistant tasks are on for this tenant",
			handler: s.getFeatures, response: featuresBody{}},
		{method: http.MethodPut, path: "/v1/features", tag: "admin", roles: admin, summary: "Switch assistant tasks on or off for this tenant (audited)",
			handler: s.setFeatures, request: featuresBody{}, response: featuresBody{}},

		{method: http.MethodPost, path: "/v1/keys", tag: "admin", roles: admin, summary: "Create an API key (the key is shown once)",
			handler: s.createKey, request: createKeyRequest{}, response: createKeyResponse{}, okStatus: http.StatusCreated},
		{method: http.MethodGet, path: "/v1/keys", tag: "admin", roles: admin, summary: "List the tenant's API keys",
			handler: s.listKeys, response: listKeysResponse{}},
		{method: http.MethodDelete, path: "/v1/keys/:id", tag: "admin", roles: admin, summary: "Revoke an API key",
			handler: s.revokeKey, response: auth.Key{}},
	}
}
