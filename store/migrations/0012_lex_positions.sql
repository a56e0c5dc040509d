-- lex_positions is the number of word positions in a chunk's tsvector, the
-- length that ts_rank_cd's normalization 1 divides by (log(1 + positions)).
-- With it the lexical arm ranks a query of any of the words without calling
-- ts_rank_cd, whose cost grows with the query's words times the chunk's
-- matches (about 40 us a chunk for a 25-word query; see retrieval.searchSQL
-- for the identity it uses). Writers fill it with dealdesk_lex_positions(lex);
-- a NULL means "not computed" and search computes it on the fly.
CREATE FUNCTION dealdesk_lex_positions(v tsvector) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	-- A lexeme stored without positions counts as one, as in ts_rank_cd.
	AS $$ SELECT coalesce(sum(coalesce(cardinality(positions), 1)), 0)::integer FROM unnest(v) $$;

ALTER TABLE chunks ADD COLUMN lex_positions integer;

-- Existing rows of a small table are filled here, with row-level security
-- lifted for the table's owner inside this transaction (forced, it would hide
-- every row from the migration). On a large table each updated row would
-- also be inserted again into the vector index, so its rows stay NULL and are
-- filled as their documents are ingested again; search is correct either
-- way. Small means under 50 MB of rows (about 25,000 chunks).
DO $$
BEGIN
	IF pg_table_size('chunks') < 50 * 1024 * 1024 THEN
		ALTER TABLE chunks NO FORCE ROW LEVEL SECURITY;
		UPDATE chunks SET lex_positions = dealdesk_lex_positions(lex);
		ALTER TABLE chunks FORCE ROW LEVEL SECURITY;
	ELSE
		RAISE NOTICE 'chunks.lex_positions stays NULL for existing rows of this large table; searches compute it until their documents are ingested again';
	END IF;
END $$;
