-- Foundation: tenants, API keys and the row-level security scaffolding that
-- every tenant-owned table uses.

-- The extension is usually created by an administrator (scripts/pg.sh does);
-- IF NOT EXISTS keeps this a no-op for roles that may not create it.
CREATE EXTENSION IF NOT EXISTS vector;

-- Settings fixed when the schema was created (for example the embedding
-- dimension); the application checks them at start.
CREATE TABLE schema_settings (
	key   text PRIMARY KEY,
	value text NOT NULL
);
INSERT INTO schema_settings (key, value) VALUES ('embed_dim', '{{EMBED_DIM}}');

-- dealdesk_tenant is the tenant of the current transaction, set by
-- store.InTenant with set_config('app.tenant_id', ..., true). NULL when
-- unset, so that policies then match nothing.
CREATE FUNCTION dealdesk_tenant() RETURNS uuid
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
	id         uuid PRIMARY KEY,
	slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
	name       text NOT NULL,
	-- features switches task features on or off for this tenant.
	features   jsonb NOT NULL DEFAULT '{}'::jsonb,
	settings   jsonb NOT NULL DEFAULT '{}'::jsonb,
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
-- A tenant sees itself; operators resolve a tenant by slug before its id is
-- known by setting app.tenant_slug for that one lookup.
CREATE POLICY tenant_self ON tenants
	USING (id = dealdesk_tenant() OR slug = NULLIF(current_setting('app.tenant_slug', true), ''))
	WITH CHECK (id = dealdesk_tenant());

CREATE TABLE api_keys (
	id           uuid PRIMARY KEY,
	tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	name         text NOT NULL,
	-- prefix is the public part shown in listings (ddk_ab12cd34).
	prefix       text NOT NULL,
	-- key_hash is SHA-256 of the whole key; the key itself is never stored.
	key_hash     bytea NOT NULL UNIQUE,
	role         text NOT NULL CHECK (role IN ('admin', 'manager', 'rep', 'plugin', 'ops')),
	-- regions limits what the key can see; empty means every region.
	regions      text[] NOT NULL DEFAULT '{}',
	created_at   timestamptz NOT NULL DEFAULT now(),
	created_by   text NOT NULL DEFAULT '',
	last_used_at timestamptz,
	revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
-- Authentication looks a key up by its hash before the tenant is known: the
-- row is visible only to a transaction that already holds the key's hash.
CREATE POLICY api_keys_tenant ON api_keys
	USING (tenant_id = dealdesk_tenant()
	       OR key_hash = decode(NULLIF(current_setting('app.key_hash', true), ''), 'hex'))
	WITH CHECK (tenant_id = dealdesk_tenant());
