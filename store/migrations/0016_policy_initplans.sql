-- Row-level security policies read the caller's scope once per statement
-- instead of once per row.
--
-- The policies of 0001-0008 call dealdesk_tenant(), dealdesk_can_see() and
-- dealdesk_can_see_generation(), SQL functions that PostgreSQL inlines into
-- every scan: each row a scan looked at then ran current_setting() up to five
-- times, parsed app.tenant_id as a uuid and, for a caller with regions, split
-- app.regions into an array twice. A search looks at hundreds to tens of
-- thousands of rows (HNSW candidates, lexical matches), so that was paid on
-- each of them. Written as scalar subqueries, the settings become init plans:
-- computed once when the statement first needs them, then read as
-- parameters, and tenant_id = (SELECT dealdesk_tenant()) can still be an
-- index condition.
--
-- The rules are exactly those of the functions, which stay (and are what
-- TestPoliciesMatchTheirFunctions compares the policies with, row by row,
-- for every kind of caller).

-- Documents and chunks: the tenant, then dealdesk_can_see(region,
-- access_regions, access_roles).
ALTER POLICY documents_tenant ON documents
	USING (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		ELSE ((SELECT current_setting('app.role', true)) = 'admin'
		      OR cardinality(access_roles) = 0
		      OR (SELECT current_setting('app.role', true)) = ANY (access_roles))
		 AND ((SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
		      OR ((region = '' OR region = ANY ((SELECT string_to_array(current_setting('app.regions', true), ','))::text[]))
		          AND (cardinality(access_regions) = 0
		               OR access_regions && (SELECT string_to_array(current_setting('app.regions', true), ',')))))
	END)
	WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));

ALTER POLICY chunks_tenant ON chunks
	USING (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		ELSE ((SELECT current_setting('app.role', true)) = 'admin'
		      OR cardinality(access_roles) = 0
		      OR (SELECT current_setting('app.role', true)) = ANY (access_roles))
		 AND ((SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
		      OR ((region = '' OR region = ANY ((SELECT string_to_array(current_setting('app.regions', true), ','))::text[]))
		          AND (cardinality(access_regions) = 0
		               OR access_regions && (SELECT string_to_array(current_setting('app.regions', true), ',')))))
	END)
	WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));

-- Opportunities and their scores: dealdesk_can_see(region, '{}', '{}'),
-- which with no access lists is the region rule alone.
ALTER POLICY opportunities_scope ON opportunities
	USING (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		ELSE (SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
		     OR region = '' OR region = ANY ((SELECT string_to_array(current_setting('app.regions', true), ','))::text[])
	END)
	WITH CHECK (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		ELSE (SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
		     OR region = '' OR region = ANY ((SELECT string_to_array(current_setting('app.regions', true), ','))::text[])
	END);

ALTER POLICY opportunity_scores_scope ON opportunity_scores
	USING (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		ELSE (SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
		     OR region = '' OR region = ANY ((SELECT string_to_array(current_setting('app.regions', true), ','))::text[])
	END)
	WITH CHECK (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		ELSE (SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
		     OR region = '' OR region = ANY ((SELECT string_to_array(current_setting('app.regions', true), ','))::text[])
	END);

-- Generations and the feedback on them: dealdesk_can_see_generation(key,
-- regions).
ALTER POLICY generations_scope ON generations
	USING (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		WHEN (SELECT current_setting('app.role', true)) IN ('admin', 'ops') THEN true
		WHEN (SELECT current_setting('app.role', true)) = 'manager' THEN
			(SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
			OR regions && (SELECT string_to_array(current_setting('app.regions', true), ','))
		ELSE created_by::text = (SELECT current_setting('app.key_id', true))
	END)
	WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));

ALTER POLICY feedback_scope ON feedback
	USING (tenant_id = (SELECT dealdesk_tenant()) AND CASE
		WHEN (SELECT NULLIF(current_setting('app.role', true), '')) IS NULL THEN true
		WHEN (SELECT current_setting('app.role', true)) IN ('admin', 'ops') THEN true
		WHEN (SELECT current_setting('app.role', true)) = 'manager' THEN
			(SELECT NULLIF(current_setting('app.regions', true), '')) IS NULL
			OR regions && (SELECT string_to_array(current_setting('app.regions', true), ','))
		ELSE key_id::text = (SELECT current_setting('app.key_id', true))
	END)
	WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));

-- The tables scoped by tenant alone.
ALTER POLICY audit_heads_tenant ON audit_heads
	USING (tenant_id = (SELECT dealdesk_tenant())) WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));
ALTER POLICY audit_log_tenant ON audit_log
	USING (tenant_id = (SELECT dealdesk_tenant())) WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));
ALTER POLICY prompt_policies_tenant ON prompt_policies
	USING (tenant_id = (SELECT dealdesk_tenant())) WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));
ALTER POLICY eval_runs_tenant ON eval_runs
	USING (tenant_id = (SELECT dealdesk_tenant())) WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));
ALTER POLICY scoring_models_tenant ON scoring_models
	USING (tenant_id = (SELECT dealdesk_tenant())) WITH CHECK (tenant_id = (SELECT dealdesk_tenant()));
ALTER POLICY ingest_jobs_tenant ON ingest_jobs
	USING (tenant_id = (SELECT dealdesk_tenant()) OR (SELECT current_setting('app.worker', true)) = 'on')
	WITH CHECK (tenant_id = (SELECT dealdesk_tenant()) OR (SELECT current_setting('app.worker', true)) = 'on');
