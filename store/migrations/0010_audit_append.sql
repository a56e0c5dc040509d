-- dealdesk_audit_append appends one entry to the caller's tenant chain in
-- a single statement: it locks the chain head, computes the entry's hash,
-- inserts the entry and moves the head. The caller (package audit) sends
-- the parts of the hashed message that it knows (see the audit package
-- documentation for the encoding, version 1):
--   p_prefix  "dealdesk.audit.v1" and the tenant id;
--   p_id      the entry id (16 bytes);
--   p_suffix  actor, actor_role, action, subject and the canonical details,
--             each with its 4-byte length;
-- and the function adds what is only known under the lock: seq, the clock
-- and prev_hash. One statement instead of a lock, a computation in the
-- application and two writes lets an entry travel in the same round trip
-- as the change it records, and holds the head's lock for less time.
-- SECURITY INVOKER (the default): row-level security applies, so a
-- transaction can only append to the chain of the tenant it is scoped to.
CREATE FUNCTION dealdesk_audit_append(
	p_tenant uuid, p_id uuid, p_actor text, p_actor_role text, p_action text, p_subject text,
	p_details text, p_prefix bytea, p_suffix bytea)
	RETURNS TABLE (entry_seq bigint, entry_at timestamptz, entry_prev_hash bytea, entry_hash bytea)
	LANGUAGE plpgsql
	AS $$
DECLARE
	head_seq  bigint;
	head_hash bytea;
	now_at    timestamptz;
	new_hash  bytea;
BEGIN
	-- ON CONFLICT DO UPDATE locks the newest version of the head, so an
	-- append that waited here reads the head its predecessor committed.
	INSERT INTO audit_heads AS h (tenant_id, seq, hash) VALUES (p_tenant, 0, decode(repeat('00', 32), 'hex'))
	ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq
	RETURNING h.seq, h.hash INTO head_seq, head_hash;
	-- The clock is read under the lock, so that "at" follows seq.
	now_at := clock_timestamp();
	new_hash := sha256(p_prefix || int8send(head_seq + 1) || uuid_send(p_id)
		|| int8send((extract(epoch FROM now_at) * 1000000)::bigint) || p_suffix || head_hash);
	INSERT INTO audit_log (tenant_id, seq, id, at, actor, actor_role, action, subject, details, prev_hash, hash)
	VALUES (p_tenant, head_seq + 1, p_id, now_at, p_actor, p_actor_role, p_action, p_subject, p_details::jsonb,
		head_hash, new_hash);
	UPDATE audit_heads SET seq = head_seq + 1, hash = new_hash, updated_at = now_at WHERE tenant_id = p_tenant;
	RETURN QUERY SELECT head_seq + 1, now_at, head_hash, new_hash;
END $$;
