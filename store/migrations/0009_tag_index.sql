-- Tag filters that can use an index under row-level security. Row-level
-- security lets the planner use an index only for leakproof operators, and
-- the array operators (tags && ...) are not; tsvector @@ tsquery is (see
-- scripts/pg.sh). tag_lex holds the tags as verbatim lexemes, so a search
-- filtered by a rare tag finds its chunks through this index instead of
-- checking the tags of every candidate.
ALTER TABLE chunks ADD COLUMN tag_lex tsvector
	GENERATED ALWAYS AS (array_to_tsvector(array_remove(array_remove(tags, NULL), ''))) STORED;
CREATE INDEX chunks_tags ON chunks USING gin (tag_lex);
