package knowledge_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/store"
	"github.com/dealdesk/dealdesk/store/storetest"
)

type env struct {
	db     *storetest.DB
	store  *knowledge.Store
	tenant uuid.UUID
	other  uuid.UUID
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := storetest.New(t)
	svc := auth.NewService(db.Pool)
	ctx := context.Background()
	a, err := svc.CreateTenant(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.CreateTenant(ctx, "globex", "")
	if err != nil {
		t.Fatal(err)
	}
	st := knowledge.NewStore(db.Pool, providers.NewOfflineEmbedder(storetest.EmbedDim), knowledge.StoreOptions{
		Chunker: knowledge.Chunker{TargetTokens: 120, OverlapTokens: 20},
	})
	return &env{db: db, store: st, tenant: a.ID, other: b.ID}
}

const tenderMD = `---
kind: tender
title: 苏州市数据局一网通办二期招标文件
region: jiangsu
industry: government
date: 2026-02-10
tags: [govdata]
---
# 苏州市数据局一网通办二期招标文件

## 资格要求
投标人须具备信创适配证书，近三年有两个以上政务数据平台业绩。

## 技术参数
| 参数 | 要求 |
| --- | --- |
| 并发办件 | ≥5000 |
| 国产化 | 支持鲲鹏、飞腾 |

## 预算
项目预算 600 万元，资金来源为财政拨款和专项债。
`

func TestIngestIsIdempotentAndVersioned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	in := knowledge.Input{Name: "tender/suzhou.md", Data: []byte(tenderMD)}

	r1, err := e.store.Ingest(ctx, e.tenant, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Outcome != knowledge.Created || r1.Version != 1 || r1.Chunks == 0 || r1.Kind != knowledge.KindTender {
		t.Fatalf("first ingest = %+v", r1)
	}
	ids1 := chunkIDs(t, e, r1.DocumentID)
	if len(ids1) != r1.Chunks {
		t.Fatalf("%d chunk rows for %d chunks", len(ids1), r1.Chunks)
	}

	r2, err := e.store.Ingest(ctx, e.tenant, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Outcome != knowledge.Unchanged || r2.DocumentID != r1.DocumentID || r2.Version != 1 {
		t.Fatalf("re-ingest = %+v", r2)
	}
	if ids := chunkIDs(t, e, r1.DocumentID); !slices.Equal(ids, ids1) {
		t.Fatal("an unchanged re-ingest rewrote the chunks")
	}

	in.Data = []byte(strings.Replace(tenderMD, "600 万元", "650 万元", 1))
	r3, err := e.store.Ingest(ctx, e.tenant, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Outcome != knowledge.Updated || r3.Version != 2 || r3.DocumentID != r1.DocumentID {
		t.Fatalf("changed ingest = %+v", r3)
	}
	ids3 := chunkIDs(t, e, r1.DocumentID)
	for _, id := range ids3 {
		for _, old := range ids1 {
			if id == old {
				t.Fatal("old chunks survived a new version")
			}
		}
	}
	if n := countWhere(t, e, e.tenant, `text LIKE '%600 万元%'`); n != 0 {
		t.Fatalf("%d chunks still say the old budget", n)
	}
	// A metadata-only change is a new version too.
	in.Meta = knowledge.Metadata{Region: "zhejiang"}
	r4, err := e.store.Ingest(ctx, e.tenant, in, nil)
	if err != nil || r4.Version != 3 {
		t.Fatalf("metadata change = %+v, %v", r4, err)
	}
	if n := countWhere(t, e, e.tenant, `region = 'zhejiang'`); n != r4.Chunks {
		t.Fatalf("chunks do not carry the new region: %d of %d", n, r4.Chunks)
	}
}

func TestChunksAreSearchable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.store.Ingest(ctx, e.tenant, knowledge.Input{Name: "tender/suzhou.md", Data: []byte(tenderMD)}, nil); err != nil {
		t.Fatal(err)
	}
	// Segmented Chinese is in the lexical index, and English is stemmed.
	for _, q := range []string{"财政拨款", "鲲鹏", "信创"} {
		if n := countWhere(t, e, e.tenant, `lex @@ plainto_tsquery('english', '`+q+`')`); n == 0 {
			t.Errorf("no chunk matches %q lexically", q)
		}
	}
	// Vectors are unit length (cosine) and the heading path is kept.
	var norm float64
	var path []string
	err := store.InTenant(ctx, e.db.Pool, e.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT vector_norm(embedding), heading_path FROM chunks WHERE text LIKE '%鲲鹏%' LIMIT 1`).Scan(&norm, &path)
	})
	if err != nil {
		t.Fatal(err)
	}
	if norm < 0.999 || norm > 1.001 || len(path) == 0 || path[0] != "苏州市数据局一网通办二期招标文件" {
		t.Fatalf("norm %v path %q", norm, path)
	}
}

func TestTenantsAndScopesSeeOnlyTheirRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	docs := map[string]knowledge.Input{
		"js":      {Name: "a.md", Data: []byte(tenderMD)},
		"gd":      {Name: "b.md", Data: []byte(tenderMD), Meta: knowledge.Metadata{Region: "guangdong"}},
		"mgr":     {Name: "c.md", Data: []byte(tenderMD), Meta: knowledge.Metadata{Access: knowledge.Access{Roles: []string{"manager"}}}},
		"global":  {Name: "d.md", Data: []byte(strings.Replace(tenderMD, "region: jiangsu\n", "", 1))},
		"onlyGD":  {Name: "e.md", Data: []byte(tenderMD), Meta: knowledge.Metadata{Access: knowledge.Access{Regions: []string{"guangdong"}}}},
		"tenantB": {Name: "f.md", Data: []byte(tenderMD)},
	}
	ids := map[string]uuid.UUID{}
	for k, in := range docs {
		tenant := e.tenant
		if k == "tenantB" {
			tenant = e.other
		}
		r, err := e.store.Ingest(ctx, tenant, in, nil)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		ids[k] = r.DocumentID
	}
	tests := []struct {
		name  string
		scope store.Scope
		see   []string
	}{
		{"admin all regions", store.Scope{Tenant: e.tenant, Role: "admin"}, []string{"js", "gd", "mgr", "global", "onlyGD"}},
		{"rep jiangsu", store.Scope{Tenant: e.tenant, Role: "rep", Regions: []string{"jiangsu"}}, []string{"js", "global"}},
		{"manager jiangsu", store.Scope{Tenant: e.tenant, Role: "manager", Regions: []string{"jiangsu"}}, []string{"js", "mgr", "global"}},
		{"rep guangdong", store.Scope{Tenant: e.tenant, Role: "rep", Regions: []string{"guangdong"}}, []string{"gd", "global"}},
		{"other tenant", store.Scope{Tenant: e.other, Role: "admin"}, []string{"tenantB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, _, err := e.store.List(ctx, tt.scope, knowledge.ListFilter{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[uuid.UUID]bool{}
			for _, d := range list {
				got[d.ID] = true
			}
			for k, id := range ids {
				want := slices.Contains(tt.see, k)
				if got[id] != want {
					t.Errorf("document %s listed=%v, want %v", k, got[id], want)
				}
				_, err := e.store.Get(ctx, tt.scope, id)
				if want != (err == nil) {
					t.Errorf("document %s: Get err = %v, want visible=%v", k, err, want)
				}
				if !want && !errors.Is(err, knowledge.ErrNotFound) {
					t.Errorf("hidden document %s: err = %v, want ErrNotFound", k, err)
				}
			}
			// Chunk counts obey the same scope, straight from SQL.
			var n, want int
			err = store.InScope(ctx, e.db.Pool, tt.scope, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(DISTINCT document_id) FROM chunks`).Scan(&n)
			})
			want = len(tt.see)
			if err != nil || n != want {
				t.Errorf("chunks of %d documents visible (%v), want %d", n, err, want)
			}
			// A hidden document cannot be deleted either.
			for k, id := range ids {
				if !slices.Contains(tt.see, k) {
					if err := e.store.Delete(ctx, tt.scope, id); !errors.Is(err, knowledge.ErrNotFound) {
						t.Errorf("delete hidden %s: %v", k, err)
					}
				}
			}
		})
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for i, name := range []string{"one.md", "two.md", "three.md"} {
		meta := knowledge.Metadata{Title: name}
		if i == 2 {
			meta.Kind = knowledge.KindPolicy
		}
		if _, err := e.store.Ingest(ctx, e.tenant, knowledge.Input{Name: name, Data: []byte(tenderMD), Meta: meta}, nil); err != nil {
			t.Fatal(err)
		}
	}
	scope := store.Scope{Tenant: e.tenant, Role: "admin"}
	page1, next, err := e.store.List(ctx, scope, knowledge.ListFilter{Limit: 2})
	if err != nil || len(page1) != 2 || next == "" {
		t.Fatalf("page 1: %d docs, next %q, %v", len(page1), next, err)
	}
	page2, next2, err := e.store.List(ctx, scope, knowledge.ListFilter{Limit: 2, Cursor: next})
	if err != nil || len(page2) != 1 || next2 != "" || page2[0].ID == page1[0].ID || page2[0].ID == page1[1].ID {
		t.Fatalf("page 2: %+v next %q %v", page2, next2, err)
	}
	pol, _, err := e.store.List(ctx, scope, knowledge.ListFilter{Kinds: []knowledge.Kind{knowledge.KindPolicy}})
	if err != nil || len(pol) != 1 || pol[0].Title != "three.md" {
		t.Fatalf("kind filter: %+v %v", pol, err)
	}
	q, _, err := e.store.List(ctx, scope, knowledge.ListFilter{Query: "TWO"})
	if err != nil || len(q) != 1 {
		t.Fatalf("query filter: %+v %v", q, err)
	}
	if _, _, err := e.store.List(ctx, scope, knowledge.ListFilter{Cursor: "garbage"}); !errors.Is(err, knowledge.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestDeleteRemovesChunks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, err := e.store.Ingest(ctx, e.tenant, knowledge.Input{Name: "x.md", Data: []byte(tenderMD)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Delete(ctx, store.Scope{Tenant: e.tenant, Role: "admin"}, r.DocumentID); err != nil {
		t.Fatal(err)
	}
	if n := countWhere(t, e, e.tenant, "true"); n != 0 {
		t.Fatalf("%d chunks left after delete", n)
	}
}

func TestIngestFilesKeepsGoingPastBadFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fsys := fstest.MapFS{
		"tender/good.md":            {Data: []byte(tenderMD)},
		"tender/empty.txt":          {Data: nil},
		"tender/broken.pdf":         {Data: []byte("%PDF-1.7\n1 0 obj <<")},
		"tender/image.png":          {Data: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
		"policy/note.txt":           {Data: []byte("江苏省数字政府建设要求各地市在2025年底前完成政务数据共享平台升级。")},
		"policy/note.txt.meta.yaml": {Data: []byte("kind: policy\nregion: jiangsu\ntitle: 江苏数字政府要点\n")},
		"README.md":                 {Data: []byte("# not a document")},
	}
	files, err := knowledge.FilesIn(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Fatalf("FilesIn found %d files, want 5 (sidecar and README skipped): %+v", len(files), files)
	}
	codes := map[string]string{}
	sum := e.store.IngestFiles(context.Background(), e.tenant, files, 3, func(r knowledge.FileResult) {
		if r.Err != nil {
			codes[r.File.Source] = knowledge.ErrorCode(r.Err)
		}
	})
	if sum.Created != 2 || sum.Failed != 3 {
		t.Fatalf("summary %+v, failures %v", sum, codes)
	}
	want := map[string]string{"tender/empty.txt": "empty_file", "tender/broken.pdf": "corrupt_file", "tender/image.png": "unsupported_file_type"}
	for f, code := range want {
		if codes[f] != code {
			t.Errorf("%s: code %q, want %q", f, codes[f], code)
		}
	}
	list, _, _ := e.store.List(context.Background(), store.Scope{Tenant: e.tenant, Role: "admin"}, knowledge.ListFilter{})
	titles := []string{}
	for _, d := range list {
		titles = append(titles, d.Title)
	}
	if !slices.Contains(titles, "江苏数字政府要点") {
		t.Fatalf("sidecar metadata not applied: %v", titles)
	}
}

func TestDemoKnowledgeBaseLoads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sub, err := fs.Sub(knowledge.DemoFS, "demo")
	if err != nil {
		t.Fatal(err)
	}
	files, err := knowledge.FilesIn(sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("demo has %d documents, want at least 40", len(files))
	}
	sum := e.store.IngestFiles(context.Background(), e.tenant, files, 2, func(r knowledge.FileResult) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.File.Source, r.Err)
		}
	})
	if sum.Failed != 0 || sum.Created != len(files) {
		t.Fatalf("demo load: %+v", sum)
	}
	again := e.store.IngestFiles(context.Background(), e.tenant, files, 2, nil)
	if again.Unchanged != len(files) {
		t.Fatalf("second demo load changed documents: %+v", again)
	}
}

func TestCollectFiles(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x.md", "a/y.txt", "a/.hidden.md", "b/z.csv", "a/y.txt.meta.yaml"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := knowledge.CollectFiles(dir, []string{filepath.Join(dir, "a"), filepath.Join(dir, "b", "*.csv"), filepath.Join(dir, "a", "x.md")})
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, f := range files {
		sources = append(sources, f.Source)
		if _, err := fs.ReadFile(f.FS, f.Path); err != nil {
			t.Errorf("%s: %v", f.Source, err)
		}
	}
	if strings.Join(sources, ",") != "a/x.md,a/y.txt,b/z.csv" {
		t.Fatalf("sources = %v", sources)
	}
	// Outside the root, sources are absolute.
	files, _ = knowledge.CollectFiles(filepath.Join(dir, "b"), []string{filepath.Join(dir, "a", "x.md")})
	if len(files) != 1 || files[0].Source != filepath.ToSlash(filepath.Join(dir, "a", "x.md")) {
		t.Fatalf("outside root: %+v", files)
	}
	if _, err := knowledge.CollectFiles(dir, []string{filepath.Join(dir, "nope", "*.md")}); err == nil {
		t.Fatal("a pattern matching nothing must be an error")
	}
}

func chunkIDs(t *testing.T, e *env, doc uuid.UUID) []int64 {
	t.Helper()
	var ids []int64
	err := store.InTenant(context.Background(), e.db.Pool, e.tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT id FROM chunks WHERE document_id = $1 ORDER BY ordinal`, doc)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func countWhere(t *testing.T, e *env, tenant uuid.UUID, where string) int {
	t.Helper()
	var n int
	err := store.InTenant(context.Background(), e.db.Pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM chunks WHERE `+where).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestChangingTheIndexingReprocesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	in := knowledge.Input{Name: "a.md", Data: []byte(tenderMD)}
	if _, err := e.store.Ingest(ctx, e.tenant, in, nil); err != nil {
		t.Fatal(err)
	}
	other := knowledge.NewStore(e.db.Pool, providers.NewOfflineEmbedder(storetest.EmbedDim), knowledge.StoreOptions{
		Chunker: knowledge.Chunker{TargetTokens: 60, OverlapTokens: 10}, EmbedModel: "offline/v2/384",
	})
	r, err := other.Ingest(ctx, e.tenant, in, nil)
	if err != nil || r.Outcome != knowledge.Updated {
		t.Fatalf("new chunker and embedder: %+v %v", r, err)
	}
}
