-- Knowledge: documents, their chunks (embedding + lexical index) and the
-- Postgres-backed ingestion queue.

-- dealdesk_can_see applies the caller's scope (set by store.InScope as
-- app.role and app.regions) to a row's region and access lists. Without a
-- caller scope (workers, admin tooling acting for the whole tenant) every
-- row of the tenant is visible.
CREATE FUNCTION dealdesk_can_see(region text, access_regions text[], access_roles text[]) RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	AS $$
	SELECT CASE
		WHEN NULLIF(current_setting('app.role', true), '') IS NULL THEN true
		ELSE (current_setting('app.role', true) = 'admin'
		      OR cardinality(access_roles) = 0
		      OR current_setting('app.role', true) = ANY (access_roles))
		 AND (NULLIF(current_setting('app.regions', true), '') IS NULL
		      OR ((region = '' OR region = ANY (string_to_array(current_setting('app.regions', true), ',')))
		          AND (cardinality(access_regions) = 0
		               OR access_regions && string_to_array(current_setting('app.regions', true), ','))))
	END $$;

CREATE TABLE documents (
	id             uuid PRIMARY KEY,
	tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	kind           text NOT NULL,
	title          text NOT NULL,
	-- source identifies the document for re-ingest (file path relative to
	-- the ingest root, upload file name, or a caller-chosen key).
	source         text NOT NULL,
	region         text NOT NULL DEFAULT '',
	industry       text NOT NULL DEFAULT '',
	customer       text NOT NULL DEFAULT '',
	doc_date       date,
	tags           text[] NOT NULL DEFAULT '{}',
	language       text NOT NULL DEFAULT '',
	access_regions text[] NOT NULL DEFAULT '{}',
	access_roles   text[] NOT NULL DEFAULT '{}',
	-- metadata is the full resolved metadata (deal facts, extra fields).
	metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
	format         text NOT NULL DEFAULT '',
	content_hash   text NOT NULL,
	version        integer NOT NULL DEFAULT 1,
	chunk_count    integer NOT NULL DEFAULT 0,
	token_count    integer NOT NULL DEFAULT 0,
	size_bytes     bigint NOT NULL DEFAULT 0,
	created_at     timestamptz NOT NULL DEFAULT now(),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, source)
);
CREATE INDEX documents_list ON documents (tenant_id, created_at DESC, id DESC);
CREATE INDEX documents_kind ON documents (tenant_id, kind);
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
CREATE POLICY documents_tenant ON documents
	USING (tenant_id = dealdesk_tenant() AND dealdesk_can_see(region, access_regions, access_roles))
	WITH CHECK (tenant_id = dealdesk_tenant());

-- chunks repeats the document's filter columns so that filtered vector and
-- lexical searches stay single-table scans that the indexes can serve.
CREATE TABLE chunks (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id      uuid NOT NULL,
	document_id    uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	ordinal        integer NOT NULL,
	text           text NOT NULL,
	heading_path   text[] NOT NULL DEFAULT '{}',
	page           integer NOT NULL DEFAULT 0,
	token_count    integer NOT NULL,
	overlap        integer NOT NULL DEFAULT 0,
	kind           text NOT NULL,
	region         text NOT NULL DEFAULT '',
	industry       text NOT NULL DEFAULT '',
	customer       text NOT NULL DEFAULT '',
	doc_date       date,
	tags           text[] NOT NULL DEFAULT '{}',
	access_regions text[] NOT NULL DEFAULT '{}',
	access_roles   text[] NOT NULL DEFAULT '{}',
	embedding      vector({{EMBED_DIM}}) NOT NULL,
	lex            tsvector NOT NULL
);
CREATE INDEX chunks_document ON chunks (document_id, ordinal);
CREATE INDEX chunks_tenant_kind ON chunks (tenant_id, kind);
CREATE INDEX chunks_lex ON chunks USING gin (lex);
CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY chunks_tenant ON chunks
	USING (tenant_id = dealdesk_tenant() AND dealdesk_can_see(region, access_regions, access_roles))
	WITH CHECK (tenant_id = dealdesk_tenant());

CREATE TABLE ingest_jobs (
	id            uuid PRIMARY KEY,
	tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
	stage         text NOT NULL DEFAULT 'queued',
	file_name     text NOT NULL,
	-- payload is the uploaded file, dropped once the job ends.
	payload       bytea,
	-- request is the metadata the caller sent with the upload.
	request       jsonb NOT NULL DEFAULT '{}'::jsonb,
	document_id   uuid,
	chunks_total  integer NOT NULL DEFAULT 0,
	chunks_done   integer NOT NULL DEFAULT 0,
	result        jsonb,
	error         text,
	error_code    text,
	attempts      integer NOT NULL DEFAULT 0,
	created_by    text NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL DEFAULT now(),
	started_at    timestamptz,
	finished_at   timestamptz,
	locked_until  timestamptz
);
CREATE INDEX ingest_jobs_queue ON ingest_jobs (created_at) WHERE status IN ('queued', 'running');
ALTER TABLE ingest_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest_jobs FORCE ROW LEVEL SECURITY;
-- Workers claim jobs across tenants (app.worker) and then process each in
-- its tenant's scope.
CREATE POLICY ingest_jobs_tenant ON ingest_jobs
	USING (tenant_id = dealdesk_tenant() OR current_setting('app.worker', true) = 'on')
	WITH CHECK (tenant_id = dealdesk_tenant() OR current_setting('app.worker', true) = 'on');
