package cli

import (
	"github.com/dealdesk/dealdesk/evals"
	"github.com/dealdesk/dealdesk/feedback"

	"github.com/dealdesk/dealdesk/assistant"
	"github.com/dealdesk/dealdesk/prompts"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/api"
	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
)

func serveCommand() boundCommand {
	c, cfg := newCommand("serve", "", "Serve the REST API", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	cfg.bindModels(c.fs)
	cfg.bindHTTP(c.fs)
	cfg.bindIngest(c.fs)
	cfg.bindRetrieval(c.fs)
	cfg.bindAssistant(c.fs)
	autoMigrate := c.fs.Bool("auto-migrate", true, "apply pending migrations at start (off: refuse to start until `dealdesk migrate` ran)")
	debugAddr := c.fs.String("debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (empty: off)")
	c.configFlagsDone()
	c.run = func(e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%w: serve takes no arguments", errUsage)
		}
		pool, err := e.openDB(true)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := store.CheckRole(e.ctx, pool); err != nil {
			return err
		}
		mopts := cfg.migrateOptions()
		if *autoMigrate {
			applied, err := store.Migrate(e.ctx, pool, mopts)
			if err != nil {
				return err
			}
			for _, m := range applied {
				e.log.Info("migration applied", "version", m.Version, "name", m.Name)
			}
			pool.Reset() // pick up types created by the migrations
		} else if err := store.CheckMigrated(e.ctx, pool, mopts); err != nil {
			return err
		}
		if ok, hint, err := store.LexicalIndexUsable(e.ctx, pool); err != nil {
			return err
		} else if !ok {
			e.log.Warn("lexical search cannot use its index under row-level security and will scan every chunk of a tenant; as a superuser, run in this database: "+hint+";",
				"component", "retrieval")
		}
		models, err := providers.New(e.ctx, cfg.Models, e.log)
		if err != nil {
			return err
		}
		lang.Warm() // load the segmentation dictionary now, not on the first request
		hc := cfg.HTTP
		hc.CORSOrigins = cfg.CORSOrigins
		hc.Version = Version()
		hc.Migrate = mopts
		kstore := knowledge.NewStore(pool, models.Embedder, cfg.knowledgeOptions(e.log, models.Info))
		queue := knowledge.NewQueue(pool, kstore, e.log.With("component", "ingest"))
		searcher := retrieval.NewSearcher(pool, models.Embedder, cfg.Retrieval)
		registry, err := prompts.Load()
		if err != nil {
			return err
		}
		tasks := assistant.New(pool, searcher, models, registry, cfg.Assistant, e.log.With("component", "assistant"))
		srv, err := api.New(hc, api.Deps{DB: pool, Auth: auth.NewService(pool).CacheKeys(cfg.KeyCacheTTL), Models: models, Knowledge: kstore, Queue: queue,
			Searcher: searcher, Assistant: tasks, Feedback: feedback.NewService(pool), Logger: e.log,
			Evals: evals.NewService(evals.Deps{Assistant: tasks, Models: models, Knowledge: kstore}, pool, 0, e.log.With("component", "evals"))})
		if err != nil {
			return err
		}
		if *debugAddr != "" {
			stop, err := serveDebug(e.ctx, *debugAddr, e.log)
			if err != nil {
				return fmt.Errorf("debug server: %w", err)
			}
			defer stop()
		}
		// Background work until e.ctx is done: the ingest workers, and the
		// sweep that marks failed the records a server left running when
		// it stopped mid-call.
		var background sync.WaitGroup
		background.Go(func() { queue.Run(e.ctx, max(1, cfg.IngestWorkers)) })
		background.Go(func() { tasks.RunSweeper(e.ctx, assistant.DefaultSweepEvery) })
		err = srv.Run(e.ctx)
		background.Wait() // workers finish their current step and stop
		return err
	}
	return c
}

func migrateCommand() boundCommand {
	c, cfg := newCommand("migrate", "[up|status]", "Apply the embedded schema migrations (up, the default) or list them (status)", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	c.fs.IntVar(&cfg.Models.EmbedDim, "embed-dim", providers.DefaultEmbedDim, "embedding dimension the schema is created with")
	c.configFlagsDone()
	c.run = func(e *env, args []string) error {
		action := "up"
		if len(args) > 0 {
			action = args[0]
		}
		if len(args) > 1 || (action != "up" && action != "status") {
			return fmt.Errorf("%w: want 'migrate up' or 'migrate status'", errUsage)
		}
		pool, err := e.openDB(false)
		if err != nil {
			return err
		}
		defer pool.Close()
		if action == "up" {
			applied, err := store.Migrate(e.ctx, pool, cfg.migrateOptions())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(e.stdout, "schema is up to date")
			}
			for _, m := range applied {
				fmt.Fprintf(e.stdout, "applied %04d_%s\n", m.Version, m.Name)
			}
			return nil
		}
		states, err := store.MigrationStatus(e.ctx, pool, cfg.migrateOptions())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS")
		for _, s := range states {
			status := "pending"
			if s.AppliedAt != nil {
				status = "applied " + s.AppliedAt.Local().Format(time.DateTime)
			}
			if s.Modified {
				status += " (MODIFIED since applied)"
			}
			fmt.Fprintf(tw, "%04d\t%s\t%s\n", s.Version, s.Name, status)
		}
		return tw.Flush()
	}
	return c
}

func tenantsCommand() boundCommand {
	c, cfg := newCommand("tenants", "create SLUG", "Create a tenant (an organisation; every row belongs to one)", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	c.configFlagsDone()
	name := c.fs.String("name", "", "display name (default: the slug)")
	c.run = func(e *env, args []string) error {
		if len(args) != 2 || args[0] != "create" {
			return fmt.Errorf("%w: want 'tenants create SLUG'", errUsage)
		}
		pool, err := e.openDB(false)
		if err != nil {
			return err
		}
		defer pool.Close()
		t, err := auth.NewService(pool).CreateTenant(e.ctx, args[1], *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created tenant %s (%s)\n", t.Slug, t.ID)
		return nil
	}
	return c
}

func keysCommand() boundCommand {
	c, cfg := newCommand("keys", "create|list|revoke [KEY_ID]", "Manage API keys of a tenant", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "", "tenant slug (required)")
	role := c.fs.String("role", "rep", "role of a new key: admin, manager, rep, plugin or ops")
	var regions stringList
	c.fs.Var(&regions, "regions", "comma-separated regions a new key may see (empty: all)")
	name := c.fs.String("name", "", "name of a new key")
	c.run = func(e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%w: want create, list or revoke", errUsage)
		}
		if *tenant == "" {
			return fmt.Errorf("%w: --tenant is required", errUsage)
		}
		pool, err := e.openDB(false)
		if err != nil {
			return err
		}
		defer pool.Close()
		svc := auth.NewService(pool)
		t, err := svc.TenantBySlug(e.ctx, *tenant)
		if err != nil {
			return err
		}
		switch {
		case args[0] == "create" && len(args) == 1:
			r, err := auth.ParseRole(*role)
			if err != nil {
				return err
			}
			k, err := svc.CreateKey(e.ctx, t.ID, auth.KeySpec{Name: *name, Role: r, Regions: regions, CreatedBy: "cli:" + currentUser()})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "created %s key %s (%s) for tenant %s; store it now, it is not shown again:\n", k.Role, k.Prefix, k.ID, t.Slug)
			fmt.Fprintln(e.stdout, k.Secret)
			return nil
		case args[0] == "list" && len(args) == 1:
			keys, err := svc.ListKeys(e.ctx, t.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tROLE\tREGIONS\tCREATED\tLAST USED\tSTATUS")
			for _, k := range keys {
				status, used := "active", "never"
				if k.RevokedAt != nil {
					status = "revoked " + k.RevokedAt.Local().Format(time.DateTime)
				}
				if k.LastUsedAt != nil {
					used = k.LastUsedAt.Local().Format(time.DateTime)
				}
				regs := strings.Join(k.Regions, ",")
				if regs == "" {
					regs = "all"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, k.Role, regs,
					k.CreatedAt.Local().Format(time.DateTime), used, status)
			}
			return tw.Flush()
		case args[0] == "revoke" && len(args) == 2:
			id, err := uuid.Parse(args[1])
			if err != nil {
				return fmt.Errorf("%w: key id %q is not a UUID (see 'keys list')", errUsage, args[1])
			}
			k, err := svc.RevokeKey(e.ctx, t.ID, id, "cli:"+currentUser())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked key %s (%s)\n", k.Prefix, k.ID)
			return nil
		}
		return fmt.Errorf("%w: want 'keys create', 'keys list' or 'keys revoke KEY_ID'", errUsage)
	}
	return c
}

// demoCommand prepares the demo tenant and an admin key for `make run`. The
// key is kept in a private file so that re-running reuses it instead of
// piling up keys.
func demoCommand() boundCommand {
	c, cfg := newCommand("demo", "", "Create the demo tenant and an admin key (reused across runs), load the demo knowledge base, and print the key", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	cfg.bindModels(c.fs)
	cfg.bindIngest(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "demo", "demo tenant slug")
	keyFile := c.fs.String("key-file", ".data/demo-admin.key", "file that keeps the demo admin key between runs (mode 0600)")
	load := c.fs.Bool("load", true, "load the embedded demo knowledge base (unchanged documents are skipped)")
	c.run = func(e *env, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%w: demo takes no arguments", errUsage)
		}
		k, err := openKnowledge(e, cfg)
		if err != nil {
			return err
		}
		defer k.close()
		pool := k.pool
		if _, err := store.Migrate(e.ctx, pool, cfg.migrateOptions()); err != nil {
			return err
		}
		pool.Reset()
		svc := auth.NewService(pool)
		t, err := svc.EnsureTenant(e.ctx, *tenant, "Demo tenant (CloudHelm sales team)")
		if err != nil {
			return err
		}
		key, err := reuseKey(e, svc, t, *keyFile)
		if err != nil {
			return err
		}
		if *load {
			files, err := demoFiles()
			if err != nil {
				return err
			}
			sum := ingestWithProgress(e.ctx, k.store, t.ID, files, cfg.IngestWorkers, e.stderr, e.stderr, true)
			if sum.Failed > 0 {
				return fmt.Errorf("%d demo documents failed to load", sum.Failed)
			}
		}
		fmt.Fprintf(e.stderr, "demo tenant %q ready; admin API key (kept in %s):\n", t.Slug, *keyFile)
		fmt.Fprintln(e.stdout, key)
		return nil
	}
	return c
}

func reuseKey(e *env, svc *auth.Service, t auth.Tenant, path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		p, err := svc.Authenticate(e.ctx, key)
		if err == nil && p.TenantID == t.ID && p.Role == auth.RoleAdmin {
			return key, nil
		}
		if err != nil && !errors.Is(err, auth.ErrUnauthenticated) && !errors.Is(err, auth.ErrRevoked) {
			return "", err
		}
	}
	k, err := svc.CreateKey(e.ctx, t.ID, auth.KeySpec{Name: "demo admin", Role: auth.RoleAdmin, CreatedBy: "demo"})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save demo key: %w", err)
	}
	if err := os.WriteFile(path, []byte(k.Secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save demo key: %w", err)
	}
	return k.Secret, nil
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
