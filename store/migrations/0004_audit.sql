-- Audit log: an append-only, per-tenant SHA-256 hash chain (package audit
-- computes the hashes and documents their encoding).
--
-- Three layers keep history fixed:
--   1. triggers raise on UPDATE, DELETE and TRUNCATE of audit_log, and on
--      DELETE, TRUNCATE or a step back of audit_heads;
--   2. the table owner (the application role) revokes those privileges from
--      itself, so a disabled trigger alone does not open the table;
--   3. the hash chain plus the separately stored head make whatever an owner
--      still does after undoing 1 and 2 visible to `dealdesk audit verify`
--      (modified, deleted, reordered and truncated entries).

-- audit_heads is each tenant's chain head: the last seq and its hash. Append
-- locks this row, so appends of one tenant are serialised while other
-- tenants proceed; it is updated in the same transaction as the entry, which
-- is how deleting the newest entries (truncating the tail) is detected.
CREATE TABLE audit_heads (
	tenant_id  uuid PRIMARY KEY REFERENCES tenants (id),
	seq        bigint NOT NULL CHECK (seq >= 0),
	hash       bytea NOT NULL CHECK (length(hash) = 32),
	updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_heads_tenant ON audit_heads
	USING (tenant_id = dealdesk_tenant())
	WITH CHECK (tenant_id = dealdesk_tenant());

-- The foreign keys have no ON DELETE action: a tenant with an audit trail is
-- not deleted by accident (the delete would have to rewrite history).
CREATE TABLE audit_log (
	tenant_id  uuid NOT NULL REFERENCES tenants (id),
	seq        bigint NOT NULL CHECK (seq >= 1),
	id         uuid NOT NULL UNIQUE,
	at         timestamptz NOT NULL,
	-- actor is an API key id or "cli:<user>"; actor_role its role.
	actor      text NOT NULL CHECK (actor <> ''),
	actor_role text NOT NULL DEFAULT '',
	-- action is what happened, e.g. generation.create, key.revoke.
	action     text NOT NULL CHECK (action <> ''),
	-- subject is the id acted on ('' when there is none).
	subject    text NOT NULL DEFAULT '',
	details    jsonb NOT NULL DEFAULT '{}'::jsonb,
	prev_hash  bytea NOT NULL CHECK (length(prev_hash) = 32),
	hash       bytea NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_subject ON audit_log (tenant_id, subject, seq) WHERE subject <> '';
CREATE INDEX audit_log_action ON audit_log (tenant_id, action, seq);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_tenant ON audit_log
	USING (tenant_id = dealdesk_tenant())
	WITH CHECK (tenant_id = dealdesk_tenant());

CREATE FUNCTION dealdesk_audit_append_only() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
BEGIN
	RAISE EXCEPTION 'audit log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege',
		      HINT = 'history cannot be changed; record a new entry instead';
END $$;

CREATE TRIGGER audit_log_append_only
	BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION dealdesk_audit_append_only();
CREATE TRIGGER audit_log_no_truncate
	BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION dealdesk_audit_append_only();

-- A head only moves forward (or is re-locked in place by Append's upsert).
CREATE FUNCTION dealdesk_audit_head_forward() RETURNS trigger
	LANGUAGE plpgsql
	AS $$
BEGIN
	IF NEW.tenant_id = OLD.tenant_id
	   AND (NEW.seq > OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash = OLD.hash)) THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'audit chain head of tenant % may only move forward (seq % to %)', OLD.tenant_id, OLD.seq, NEW.seq
		USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_heads_forward
	BEFORE UPDATE ON audit_heads
	FOR EACH ROW EXECUTE FUNCTION dealdesk_audit_head_forward();
CREATE TRIGGER audit_heads_no_delete
	BEFORE DELETE ON audit_heads
	FOR EACH ROW EXECUTE FUNCTION dealdesk_audit_append_only();
CREATE TRIGGER audit_heads_no_truncate
	BEFORE TRUNCATE ON audit_heads
	FOR EACH STATEMENT EXECUTE FUNCTION dealdesk_audit_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC, CURRENT_USER;
REVOKE DELETE, TRUNCATE ON audit_heads FROM PUBLIC, CURRENT_USER;

-- Operators verify every tenant's chain (`dealdesk audit verify`): a
-- transaction that sets app.list_tenants may list the tenants, read-only.
CREATE POLICY tenants_list ON tenants FOR SELECT
	USING (current_setting('app.list_tenants', true) = 'on');
