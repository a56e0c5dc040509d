package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
)

func searchCommand() boundCommand {
	c, cfg := newCommand("search", `"QUERY"`, "Search a tenant's knowledge base and print the hits", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	cfg.bindModels(c.fs)
	cfg.bindRetrieval(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "demo", "tenant slug")
	role := c.fs.String("role", "admin", "search as this role (document access lists apply)")
	var regions, kinds, filterRegions stringList
	c.fs.Var(&regions, "as-regions", "search as a key limited to these regions")
	c.fs.Var(&kinds, "kind", "only these kinds (comma-separated)")
	c.fs.Var(&filterRegions, "region", "only these regions (comma-separated)")
	k := c.fs.Int("k", 10, "hits")
	mode := c.fs.String("mode", "hybrid", "hybrid, vector or lexical")
	diversity := c.fs.Float64("diversity", 0, "0-1: MMR re-ranking for varied hits")
	c.run = func(e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%w: give the query", errUsage)
		}
		m, err := retrieval.ParseMode(*mode)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		r, err := auth.ParseRole(*role)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		pool, err := e.openDB(true)
		if err != nil {
			return err
		}
		defer pool.Close()
		models, err := providers.New(e.ctx, cfg.Models, e.log)
		if err != nil {
			return err
		}
		t, err := auth.NewService(pool).TenantBySlug(e.ctx, *tenant)
		if err != nil {
			return err
		}
		res, err := retrieval.NewSearcher(pool, models.Embedder, cfg.Retrieval).Search(e.ctx, retrieval.Query{
			Text: strings.Join(args, " "), K: *k, Mode: m, Diversity: *diversity,
			Scope:   store.Scope{Tenant: t.ID, Role: string(r), Regions: regions},
			Filters: retrieval.Filters{Kinds: kinds, Regions: filterRegions},
		})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSCORE\tVEC\tLEX\tKIND\tREGION\tSOURCE\tSECTION\tSNIPPET")
		for i, h := range res.Hits {
			fmt.Fprintf(tw, "%d\t%.4f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, h.Score, rank(h.Scores.VectorRank), rank(h.Scores.LexicalRank),
				h.Kind, h.Region, h.Source, clip(strings.Join(h.HeadingPath, " > "), 30), clip(oneLine(h.Snippet), 70))
		}
		tw.Flush()
		fmt.Fprintf(e.stdout, "%d hits (%s) in %s\n", len(res.Hits), res.Mode, res.Took.Round(time.Microsecond))
		return nil
	}
	return c
}

func rank(r int) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprint(r)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func reindexCommand() boundCommand {
	c, cfg := newCommand("reindex", "", "Rebuild the HNSW vector index with new parameters (search scans exactly meanwhile)", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	c.configFlagsDone()
	m := c.fs.Int("hnsw-m", knowledge.DefaultIndexParams.M, "HNSW links per node")
	efc := c.fs.Int("hnsw-ef-construction", knowledge.DefaultIndexParams.EfConstruction, "HNSW candidate list while building")
	c.run = func(e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%w: reindex takes no arguments", errUsage)
		}
		pool, err := e.openDB(false)
		if err != nil {
			return err
		}
		defer pool.Close()
		took, err := knowledge.RebuildVectorIndex(e.ctx, pool, knowledge.IndexParams{M: *m, EfConstruction: *efc})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "vector index rebuilt with m=%d ef_construction=%d in %s\n", *m, *efc, took.Round(time.Millisecond))
		return nil
	}
	return c
}
