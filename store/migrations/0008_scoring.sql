-- Scoring: opportunities (the CRM records scores are computed for and
-- trained on), per-tenant model versions with their validation metrics,
-- and every score computed, with the model version that computed it.

CREATE TABLE opportunities (
	id             uuid PRIMARY KEY,
	tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	-- external_id is the CRM's id: upserts match on it.
	external_id    text NOT NULL CHECK (external_id <> ''),
	name           text NOT NULL DEFAULT '',
	customer       text NOT NULL DEFAULT '',
	stage          text NOT NULL,
	amount         double precision,
	currency       text NOT NULL DEFAULT '',
	region         text NOT NULL DEFAULT '',
	industry       text NOT NULL DEFAULT '',
	customer_size  text NOT NULL DEFAULT '',
	product_line   text NOT NULL DEFAULT '',
	competitors    text[] NOT NULL DEFAULT '{}',
	source         text NOT NULL DEFAULT '',
	owner          text NOT NULL DEFAULT '',
	days_in_stage  integer CHECK (days_in_stage >= 0),
	-- Activity counts; NULL when the CRM does not report them.
	emails         integer CHECK (emails >= 0),
	calls          integer CHECK (calls >= 0),
	meetings       integer CHECK (meetings >= 0),
	last_activity_at timestamptz,
	outcome        text NOT NULL DEFAULT 'open' CHECK (outcome IN ('open', 'won', 'lost')),
	open_date      date,
	close_date     date,
	-- fields holds the CRM's other fields (numbers and strings), usable
	-- as model features.
	fields         jsonb NOT NULL DEFAULT '{}'::jsonb,
	-- outcome_at is when the outcome was first recorded here: automatic
	-- retraining counts the outcomes that arrived after a model.
	outcome_at     timestamptz,
	-- competitors_changed_at is when a competitor was last added (risk).
	competitors_changed_at timestamptz,
	created_at     timestamptz NOT NULL DEFAULT now(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, external_id)
);
CREATE INDEX opportunities_closed ON opportunities (tenant_id, outcome, outcome_at);
ALTER TABLE opportunities ENABLE ROW LEVEL SECURITY;
ALTER TABLE opportunities FORCE ROW LEVEL SECURITY;
-- Opportunities have a region: a caller sees, and writes, only those of
-- its regions (documents work the same way).
CREATE POLICY opportunities_scope ON opportunities
	USING (tenant_id = dealdesk_tenant() AND dealdesk_can_see(region, '{}', '{}'))
	WITH CHECK (tenant_id = dealdesk_tenant() AND dealdesk_can_see(region, '{}', '{}'));

CREATE TABLE scoring_models (
	tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	version          integer NOT NULL CHECK (version > 0),
	-- method is "logistic_l2+platt" or "rules (cold start)".
	method           text NOT NULL,
	features         jsonb NOT NULL DEFAULT '[]'::jsonb,
	-- params is everything needed to score: encoders, weights, rules.
	params           jsonb NOT NULL,
	calibration      jsonb NOT NULL DEFAULT '{}'::jsonb,
	-- metrics: held-out AUC, Brier, log loss, calibration bins, sizes,
	-- split and the baseline measured on the same split.
	metrics          jsonb NOT NULL DEFAULT '{}'::jsonb,
	trained_on_count integer NOT NULL DEFAULT 0,
	trained_at       timestamptz NOT NULL DEFAULT now(),
	trained_by       text NOT NULL DEFAULT '',
	active           boolean NOT NULL DEFAULT false,
	PRIMARY KEY (tenant_id, version)
);
CREATE UNIQUE INDEX scoring_models_one_active ON scoring_models (tenant_id) WHERE active;
ALTER TABLE scoring_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE scoring_models FORCE ROW LEVEL SECURITY;
CREATE POLICY scoring_models_tenant ON scoring_models
	USING (tenant_id = dealdesk_tenant())
	WITH CHECK (tenant_id = dealdesk_tenant());

CREATE TABLE opportunity_scores (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	-- opportunity_id is NULL for an inline opportunity that is not stored.
	opportunity_id uuid REFERENCES opportunities (id) ON DELETE CASCADE,
	external_id    text NOT NULL DEFAULT '',
	region         text NOT NULL DEFAULT '',
	-- model_version 0 is the built-in cold-start rules.
	model_version  integer NOT NULL,
	method         text NOT NULL,
	probability    double precision NOT NULL CHECK (probability >= 0 AND probability <= 1),
	band           text NOT NULL CHECK (band IN ('high', 'medium', 'low')),
	factors        jsonb NOT NULL DEFAULT '[]'::jsonb,
	risk           jsonb NOT NULL DEFAULT '{}'::jsonb,
	scored_by      text NOT NULL DEFAULT '',
	scored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX opportunity_scores_opportunity ON opportunity_scores (tenant_id, opportunity_id, scored_at DESC);
ALTER TABLE opportunity_scores ENABLE ROW LEVEL SECURITY;
ALTER TABLE opportunity_scores FORCE ROW LEVEL SECURITY;
CREATE POLICY opportunity_scores_scope ON opportunity_scores
	USING (tenant_id = dealdesk_tenant() AND dealdesk_can_see(region, '{}', '{}'))
	WITH CHECK (tenant_id = dealdesk_tenant() AND dealdesk_can_see(region, '{}', '{}'));
