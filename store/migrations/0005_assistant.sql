-- Assistant: generation records (what each task call asked, retrieved and
-- answered) and per-tenant prompt policies.

-- dealdesk_can_see_generation: admins and ops see every generation of the
-- tenant; managers those made in their regions (all, when unrestricted);
-- reps and plugins their own key's. Without a caller scope (CLI tooling
-- acting for the whole tenant) everything is visible.
CREATE FUNCTION dealdesk_can_see_generation(created_by uuid, regions text[]) RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$
	SELECT CASE
		WHEN NULLIF(current_setting('app.role', true), '') IS NULL THEN true
		WHEN current_setting('app.role', true) IN ('admin', 'ops') THEN true
		WHEN current_setting('app.role', true) = 'manager' THEN
			NULLIF(current_setting('app.regions', true), '') IS NULL
			OR regions && string_to_array(current_setting('app.regions', true), ',')
		ELSE created_by::text = current_setting('app.key_id', true)
	END $$;

CREATE TABLE generations (
	id                uuid PRIMARY KEY,
	tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	task              text NOT NULL,
	-- status is ok, or failed with error saying why (invalid model output
	-- after the repair attempt, provider failure).
	status            text NOT NULL CHECK (status IN ('ok', 'failed')),
	error             text NOT NULL DEFAULT '',
	prompt_name       text NOT NULL,
	prompt_version    int NOT NULL,
	prompt_digest     text NOT NULL,
	provider          text NOT NULL,
	model             text NOT NULL,
	offline           boolean NOT NULL,
	created_by        uuid,
	created_by_name   text NOT NULL DEFAULT '',
	role              text NOT NULL,
	regions           text[] NOT NULL DEFAULT '{}',
	request_id        text NOT NULL DEFAULT '',
	-- input, output and raw_output are stored masked: personal data is
	-- kept as the placeholders the model saw, never in clear.
	input             jsonb NOT NULL,
	output            jsonb,
	raw_output        text NOT NULL DEFAULT '',
	sources           jsonb NOT NULL DEFAULT '[]'::jsonb,
	checks            jsonb NOT NULL DEFAULT '{}'::jsonb,
	repaired          boolean NOT NULL DEFAULT false,
	prompt_tokens     int NOT NULL DEFAULT 0,
	completion_tokens int NOT NULL DEFAULT 0,
	latency_ms        double precision NOT NULL DEFAULT 0,
	retrieval_ms      double precision NOT NULL DEFAULT 0,
	model_ms          double precision NOT NULL DEFAULT 0,
	created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generations_tenant_created ON generations (tenant_id, created_at DESC);
CREATE INDEX generations_tenant_task ON generations (tenant_id, task, prompt_version);
ALTER TABLE generations ENABLE ROW LEVEL SECURITY;
ALTER TABLE generations FORCE ROW LEVEL SECURITY;
CREATE POLICY generations_scope ON generations
	USING (tenant_id = dealdesk_tenant() AND dealdesk_can_see_generation(created_by, regions))
	WITH CHECK (tenant_id = dealdesk_tenant());

-- prompt_policies: which version of a template a tenant uses (pinned, or
-- latest when version is 0) and an optional A/B candidate.
CREATE TABLE prompt_policies (
	tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	name            text NOT NULL,
	version         int NOT NULL DEFAULT 0 CHECK (version >= 0),
	candidate       int NOT NULL DEFAULT 0 CHECK (candidate >= 0),
	candidate_share double precision NOT NULL DEFAULT 0 CHECK (candidate_share >= 0 AND candidate_share <= 1),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	updated_by      text NOT NULL DEFAULT '',
	PRIMARY KEY (tenant_id, name)
);
ALTER TABLE prompt_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE prompt_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY prompt_policies_tenant ON prompt_policies
	USING (tenant_id = dealdesk_tenant())
	WITH CHECK (tenant_id = dealdesk_tenant());
