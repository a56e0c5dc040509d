-- The vector index's build parameters become m = 32, ef_construction = 200
-- (knowledge.DefaultIndexParams), and the default ef_search 250. Over
-- 1,000,000 chunks (make bench) the m 24 / ef_construction 128 graph of
-- migration 0011 gave recall@10 between 0.942 and 0.960 at ef_search 400
-- across four builds, at the edge of the 0.95 goal; two builds with m 32 /
-- ef_construction 200 gave 0.956-0.962 at ef_search 200 (p50 4.2-4.3 ms),
-- 0.970 at 250 (4.4 ms) and 0.966-0.974 at 300 (4.5-4.9 ms). The build takes
-- about 1.5x as long (646-668 s against 455 s) for an index 4% larger.
--
-- As in 0011, a small table (under 200 MB of rows, about 100,000 chunks) is
-- reindexed here; a large one keeps its index and gets a notice: rebuild it
-- when convenient with
--   dealdesk reindex --hnsw-m 32 --hnsw-ef-construction 200
DO $$
BEGIN
	IF pg_table_size('chunks') < 200 * 1024 * 1024 THEN
		DROP INDEX IF EXISTS chunks_embedding;
		CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops) WITH (m = 32, ef_construction = 200);
	ELSE
		RAISE NOTICE 'chunks_embedding keeps its build parameters on this large table; run `dealdesk reindex --hnsw-m 32 --hnsw-ef-construction 200` to rebuild it';
	END IF;
END $$;
