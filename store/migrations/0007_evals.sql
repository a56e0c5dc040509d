-- Evals: runs of eval suites (the CI gate for prompt changes), with their
-- per-case results, metrics and the gate verdict against a baseline run.

CREATE TABLE eval_runs (
	id              uuid PRIMARY KEY,
	tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	suite           text NOT NULL,
	-- suite_digest is the SHA-256 of the suite file the run executed.
	suite_digest    text NOT NULL,
	tasks           text[] NOT NULL DEFAULT '{}',
	-- prompt_version is the version asked for (0: the tenant's policy);
	-- prompt_versions the templates the generations used (email_draft@v1).
	prompt_version  int NOT NULL DEFAULT 0 CHECK (prompt_version >= 0),
	prompt_versions text[] NOT NULL DEFAULT '{}',
	provider        text NOT NULL,
	model           text NOT NULL DEFAULT '',
	status          text NOT NULL CHECK (status IN ('running', 'passed', 'failed', 'error')),
	error           text NOT NULL DEFAULT '',
	pass_rate       double precision,
	metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
	results         jsonb NOT NULL DEFAULT '[]'::jsonb,
	thresholds      jsonb NOT NULL DEFAULT '{}'::jsonb,
	-- baseline_run_id is the run the gate compared with: a stored run, or
	-- one exported with --json from elsewhere (so no foreign key).
	baseline_run_id uuid,
	gate            jsonb,
	created_by      text NOT NULL DEFAULT '',
	started_at      timestamptz NOT NULL DEFAULT now(),
	finished_at     timestamptz
);
CREATE INDEX eval_runs_tenant_started ON eval_runs (tenant_id, started_at DESC);
CREATE INDEX eval_runs_tenant_suite ON eval_runs (tenant_id, suite, started_at DESC);
ALTER TABLE eval_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE eval_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY eval_runs_tenant ON eval_runs
	USING (tenant_id = dealdesk_tenant())
	WITH CHECK (tenant_id = dealdesk_tenant());
