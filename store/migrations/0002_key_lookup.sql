-- Authentication resolves a key and its tenant in one round trip: the
-- tenant row becomes visible to a transaction that holds the hash of one of
-- its keys (and only then).
DROP POLICY tenant_self ON tenants;
CREATE POLICY tenant_self ON tenants
	USING (id = dealdesk_tenant()
	       OR slug = NULLIF(current_setting('app.tenant_slug', true), '')
	       OR id = (SELECT k.tenant_id FROM api_keys k
	                WHERE k.key_hash = decode(NULLIF(current_setting('app.key_hash', true), ''), 'hex')))
	WITH CHECK (id = dealdesk_tenant());
