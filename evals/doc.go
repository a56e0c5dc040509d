// Package evals runs evaluation suites against the assistant: the gate a
// prompt change must pass before it ships.
//
// A suite is a YAML file (bundled ones live in suites/ and are embedded in
// the binary, so `dealdesk eval run email_draft` finds them by name):
//
//	name: email_draft
//	description: Customer emails grounded in the demo knowledge base
//	task: email_draft                 # default task of the cases
//	defaults:
//	  input: {seller: 云擎科技}         # merged under every case's input
//	  assert:                          # checked on every case
//	    - type: citations_valid
//	    - type: no_pii
//	thresholds:
//	  min_pass_rate: 1.0               # the run fails below it
//	  max_pass_rate_drop: 0.0          # ... or when it falls more than this below the baseline
//	  min_metrics: {recall_at_5: 0.6}  # absolute floors of higher-is-better metrics
//	  max_metric_drop:                 # per metric: an absolute drop (0.05) or a relative one ("10%");
//	    recall_at_5: 0.05              # for latencies, lower is better: "+50%" allows 50% slower
//	    latency_p95_ms: "+50%"
//	cases:
//	  - id: suzhou-follow-up
//	    task: email_draft              # optional, default the suite's task
//	    input:                         # the task's API request body, as YAML
//	      purpose: follow_up
//	      customer: 苏州市数据局
//	    document: tender/x.md          # optional: fills the tender, transcript or intel text
//	                                   # from this knowledge-base document (by source path)
//	    expect:
//	      facts: [苏州]                # must appear in the answer (case-insensitive)
//	      sources: [won_deal/suzhou-data-bureau-govdata.md]  # labelled relevant documents
//	    assert:
//	      - type: contains
//	        path: /subject             # a JSON Pointer into the answer; default the whole answer
//	        value: [苏州]
//
// Assertion types: contains and not_contains (value: a string or a list;
// ignore_case; any: one of the list is enough), regex (pattern),
// json_schema (schema: an extra schema the output must satisfy),
// citations_valid (no unknown citations; min_cited), no_pii (the answer
// holds no personal data the input did not bring), length (min and max
// runes), latency (max_ms), recall_at_k (k, min) and mrr (min) against
// expect.sources, using the retrieved sources' document paths in label
// order, similarity (reference, min: cosine with the configured embedder)
// and llm_judge (rubric, min score 1-5), which needs a real model: with
// the offline provider it is reported as skipped, never as passed.
//
// Run executes a suite's cases concurrently as an ops caller of a tenant,
// optionally pinned to one prompt version, and measures each case;
// Compare checks a run against a baseline run and the suite's thresholds.
// Service adds storage (the eval_runs table) and background runs for the
// API. Reports come as a terminal table, JUnit XML, Markdown and HTML.
package evals
