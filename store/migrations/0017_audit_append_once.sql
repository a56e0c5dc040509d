-- dealdesk_audit_append moves its tenant's chain head with one write
-- instead of two. The version of 0010 locked the head with an upsert
-- (INSERT ... ON CONFLICT DO UPDATE SET seq = seq), which writes a new
-- version of the row just to lock it, fires the head's forward-only trigger,
-- and then updated the row again: two row versions and two trigger calls per
-- entry, inside the lock that serialises the tenant's appends. Now the head
-- is locked with SELECT ... FOR UPDATE; only a tenant's first entry creates
-- the head (ON CONFLICT DO NOTHING waits for a concurrent first append, and
-- the second lock then reads the row it committed). Hashing and the entry
-- are unchanged (see 0010 and the audit package).
CREATE OR REPLACE FUNCTION dealdesk_audit_append(
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
	SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_heads h WHERE h.tenant_id = p_tenant FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (p_tenant, 0, decode(repeat('00', 32), 'hex'))
		ON CONFLICT (tenant_id) DO NOTHING;
		SELECT h.seq, h.hash INTO STRICT head_seq, head_hash FROM audit_heads h WHERE h.tenant_id = p_tenant FOR UPDATE;
	END IF;
	now_at := clock_timestamp();
	new_hash := sha256(p_prefix || int8send(head_seq + 1) || uuid_send(p_id)
		|| int8send((extract(epoch FROM now_at) * 1000000)::bigint) || p_suffix || head_hash);
	INSERT INTO audit_log (tenant_id, seq, id, at, actor, actor_role, action, subject, details, prev_hash, hash)
	VALUES (p_tenant, head_seq + 1, p_id, now_at, p_actor, p_actor_role, p_action, p_subject, p_details::jsonb,
		head_hash, new_hash);
	UPDATE audit_heads SET seq = head_seq + 1, hash = new_hash, updated_at = now_at WHERE tenant_id = p_tenant;
	RETURN QUERY SELECT head_seq + 1, now_at, head_hash, new_hash;
END $$;
