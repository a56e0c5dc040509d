// Package prompts holds DealDesk's prompt templates: versioned, embedded in
// the binary, checked at start-up, and resolved per tenant. Every assistant
// task renders one of them, validates the model's JSON answer against the
// template's output schema, and records the template's ID ("email_draft@v1")
// and Digest with the generation, so a change in behaviour can always be
// traced to a prompt version.
//
// # Layout
//
// Templates live in prompts/templates, one file per version, named
// <name>@v<version>.tmpl (email_draft@v1.tmpl). A file is YAML front matter
// between "---" lines, then a text/template body that defines two sections:
//
//	---
//	name: email_draft            # lower-case, digits, underscores
//	version: 1                   # must match the file name
//	task: email_draft            # which input type the body renders (see below)
//	language: auto               # zh | en | auto (answer in the input's Language)
//	description: Customer email draft grounded in retrieved sources
//	temperature: 0.3
//	max_tokens: 1500
//	draft: false                 # true: never chosen as "latest" (see Selection)
//	output_schema:               # JSON Schema (2020-12) of the model's JSON answer
//	  type: object
//	  required: [subject, body]
//	  properties: {...}
//	---
//	{{define "system"}}...{{schema}}...{{end}}
//	{{define "user"}}...{{sources .Sources}}...{{end}}
//
// The body sees the task's input type: EmailDraftInput, MeetingNotesInput,
// TalkTrackInput, ObjectionInput, TenderAnalysisInput or
// CompetitiveIntelInput, each embedding Common (.Language, .Seller,
// .Sources). It may call:
//
//   - sources: fences retrieved passages as <source id="S1" ...> data
//     blocks (providers.FormatSources), the form the offline model reads;
//   - fence ID TITLE KIND TEXT: fences one document the same way (the
//     meeting transcript, the tender, the intel text are T1);
//   - schema: the output schema as JSON, keys in the file's order;
//   - lang .Language: the answer language, "zh", "en" or "auto";
//   - join: strings.Join.
//
// Retrieved text is untrusted: every template fences it and says so, and
// tells the model to answer with one JSON object that cites sources by
// label ("S1", and "T1" for the task's own document).
//
// # Selection
//
// A tenant's Policy pins a version (Version) or follows the latest one that
// is not a draft (Version 0), and may send a share of requests to a
// Candidate version. Choose splits by a hash of the template name and a
// request key, so the same key always gets the same version. Policies are
// stored by the caller; this package only resolves them.
//
// # Adding a version (ops)
//
//  1. Copy the current file to the next version, e.g.
//     email_draft@v2.tmpl, and set "version: 2" in its front matter. Never
//     edit a version that has served traffic: generation records and eval
//     baselines refer to it by ID. Fix it by adding a version.
//  2. Set "draft: true" while the version is on trial, so tenants that
//     follow the latest version do not move to it yet.
//  3. Change the prompt and, if needed, the output schema. If the schema
//     changes shape, check that the assistant task still reads the fields it
//     needs.
//  4. Run go test ./prompts/ (every template is loaded and rendered with
//     realistic Chinese and English inputs; add a valid sample answer to
//     testdata/outputs) and run the task's eval suite against the new
//     version (dealdesk eval SUITE); compare with the current version.
//  5. Trial it: give a tenant a policy with Candidate 2 and a
//     CandidateShare such as 0.1, watch feedback and eval results per
//     prompt version, then raise the share.
//  6. Promote it: remove "draft: true". Tenants on Version 0 move to it
//     with the next release; pinned tenants stay where they are.
//
// Load refuses to start with a bad template and names the file: broken
// front matter or an unknown key, a file name that does not match the name
// and version, the same version declared twice, a schema that does not
// compile, a missing section, or a body that fails on the sample inputs
// (a misspelt field, a missing {{schema}} or {{sources .Sources}}).
//
// # Output
//
// ParseJSONOutput extracts the JSON object from a model's answer (fences
// and prose around it are tolerated); Template.Schema.Validate checks it and
// returns a *ValidationError whose problems carry JSON Pointer paths.
// RepairPrompt builds the one-shot request to fix an answer that failed.
package prompts
