// Package retrieval finds the knowledge every assistant task stands on. One
// Search serves them all: a vector arm (cosine distance on an HNSW index,
// with pgvector's iterative index scans so that filtered queries still
// return k hits) and a lexical arm (ts_rank_cd's cover density over
// tsvectors of Chinese-segmented, English-stemmed text; see orRankCD for
// how the any-word form computes it cheaply) fused with reciprocal rank
// fusion, optionally diversified with MMR, and packed into a token budget
// for prompts.
//
// Filters and the caller's scope (tenant, regions, role, document access
// lists) are applied inside SQL: the filters in the WHERE clause, the scope
// by PostgreSQL row-level security, so a hit, a snippet or a count outside
// the caller's scope cannot be produced.
//
// A search is one statement, sent with its scope and settings in one round
// trip. Over a small chunks table it runs a generic plan, planned once per
// connection; over a large one a custom plan, planned for the query's
// words and vector (Config.GenericPlanMaxChunks).
package retrieval
