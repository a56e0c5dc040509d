-- Feedback: reps' verdicts on generations (accepted, edited, rejected), with
-- the correction and how much it changed. One row per rep and generation;
-- giving feedback again updates it.

CREATE TABLE feedback (
	id             uuid PRIMARY KEY,
	tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	generation_id  uuid NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
	-- rep_id identifies the rep (a CRM user id, or the API key id).
	rep_id         text NOT NULL,
	key_id         uuid,
	verdict        text NOT NULL CHECK (verdict IN ('accepted', 'edited', 'rejected')),
	-- field is the JSON Pointer of the generation output the correction
	-- replaces; original and corrected texts are stored masked.
	field          text NOT NULL DEFAULT '',
	original_text  text NOT NULL DEFAULT '',
	corrected_text text NOT NULL DEFAULT '',
	reasons        text[] NOT NULL DEFAULT '{}'
		CHECK (reasons <@ ARRAY['wrong_fact', 'wrong_tone', 'missing_info', 'hallucinated_source', 'pii', 'other']::text[]),
	comment        text NOT NULL DEFAULT '',
	edit_distance  integer NOT NULL DEFAULT 0,
	edit_ratio     double precision NOT NULL DEFAULT 0,
	changes        jsonb NOT NULL DEFAULT '[]'::jsonb,
	-- Copied from the generation so that statistics need no join.
	task           text NOT NULL,
	prompt_version integer NOT NULL,
	provider       text NOT NULL,
	model          text NOT NULL,
	regions        text[] NOT NULL DEFAULT '{}',
	promoted_document_id uuid,
	created_at     timestamptz NOT NULL DEFAULT now(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, generation_id, rep_id)
);
CREATE INDEX feedback_stats ON feedback (tenant_id, task, prompt_version, created_at);
ALTER TABLE feedback ENABLE ROW LEVEL SECURITY;
ALTER TABLE feedback FORCE ROW LEVEL SECURITY;
-- A caller sees the feedback on the generations it can see.
CREATE POLICY feedback_scope ON feedback
	USING (tenant_id = dealdesk_tenant() AND dealdesk_can_see_generation(key_id, regions))
	WITH CHECK (tenant_id = dealdesk_tenant());
