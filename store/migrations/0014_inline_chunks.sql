-- A chunk's row keeps its embedding and tsvector inline, uncompressed, when
-- the row fits in a page. Under the default TOAST target (about 2 kB) a
-- 384-dimension embedding (1.5 kB) plus a tsvector (1-3 kB) and the text
-- made most rows too long: PostgreSQL moved the embedding to the TOAST table
-- and compressed the tsvector, so every distance a search computed fetched
-- the vector through the TOAST index, and every lexical match it ranked
-- decompressed its tsvector first. Over the demo corpus (199 chunks) one
-- hybrid search took 2.7 ms of PostgreSQL time that way and 1.5 ms inline
-- (pgbench, one client); its vector arm alone 0.95 against 0.42 ms.
--
-- With toast_tuple_target at its maximum, a row is compressed or moved out
-- of line only when it would not fit in a page; then the text and the
-- tsvector go first, since the embedding's storage is MAIN. Embeddings of
-- more dimensions (1,536 is 6 kB) still fit inline with their tsvector out
-- of line.
ALTER TABLE chunks SET (toast_tuple_target = 8160);
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;

-- Existing rows keep their old layout until they are written again. Those
-- of a small table are written again here (each column given a fresh value,
-- since an unchanged TOAST pointer would be kept as it is), with row-level
-- security lifted for the table's owner inside this transaction, as in
-- 0012. Every rewritten row is inserted again into the vector index, so a
-- large table is left alone: its rows change layout as their documents are
-- ingested again, and search is correct either way. Small means under 50 MB
-- of rows (about 25,000 chunks).
DO $$
BEGIN
	IF pg_table_size('chunks') < 50 * 1024 * 1024 THEN
		ALTER TABLE chunks NO FORCE ROW LEVEL SECURITY;
		UPDATE chunks SET embedding = (embedding::real[])::vector, lex = lex || ''::tsvector, text = text || '';
		ALTER TABLE chunks FORCE ROW LEVEL SECURITY;
	ELSE
		RAISE NOTICE 'chunks keeps the storage layout of its existing rows on this large table; they change as their documents are ingested again';
	END IF;
END $$;
