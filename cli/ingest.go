package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"
	"github.com/dealdesk/dealdesk/providers"
)

func ingestCommand() boundCommand {
	c, cfg := newCommand("ingest", "PATH...", "Ingest files, folders or glob patterns into a tenant's knowledge base", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	cfg.bindModels(c.fs)
	cfg.bindIngest(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "demo", "tenant slug")
	quiet := c.fs.Bool("quiet", false, "print only the summary")
	root := c.fs.String("root", ".", "folder that document sources are relative to (their identity for re-ingest)")
	bulk := c.fs.Bool("bulk", false, "large import: drop the vector index, load, rebuild it (search scans exactly meanwhile)")
	c.run = func(e *env, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%w: name at least one file, folder or pattern", errUsage)
		}
		files, err := knowledge.CollectFiles(*root, args)
		if err != nil {
			return err
		}
		k, err := openKnowledge(e, cfg)
		if err != nil {
			return err
		}
		defer k.close()
		t, err := auth.NewService(k.pool).TenantBySlug(e.ctx, *tenant)
		if err != nil {
			return err
		}
		var sum knowledge.Summary
		load := func() error {
			sum = ingestWithProgress(e.ctx, k.store, t.ID, files, cfg.IngestWorkers, e.stdout, e.stderr, *quiet)
			return e.ctx.Err()
		}
		if *bulk {
			rebuild, err := k.store.BulkLoad(e.ctx, load)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "vector index rebuilt in %s\n", rebuild.Round(time.Millisecond))
		} else if err := load(); err != nil {
			return err
		}
		if sum.Failed > 0 {
			return fmt.Errorf("%d of %d files failed", sum.Failed, sum.Files)
		}
		return nil
	}
	return c
}

// knowledgeDeps is what ingesting commands open.
type knowledgeDeps struct {
	pool  *pgxpool.Pool
	store *knowledge.Store
}

func (k knowledgeDeps) close() { k.pool.Close() }

func openKnowledge(e *env, cfg *Config) (knowledgeDeps, error) {
	pool, err := e.openDB(true)
	if err != nil {
		return knowledgeDeps{}, err
	}
	models, err := providers.New(e.ctx, cfg.Models, e.log)
	if err != nil {
		pool.Close()
		return knowledgeDeps{}, err
	}
	return knowledgeDeps{pool: pool, store: knowledge.NewStore(pool, models.Embedder, cfg.knowledgeOptions(e.log, models.Info))}, nil
}

// ingestWithProgress ingests files with a progress bar on stderr (when it
// is a terminal), one line per file on stdout, and a summary.
func ingestWithProgress(ctx context.Context, st *knowledge.Store, tenant uuid.UUID, files []knowledge.File, workers int, stdout, stderr io.Writer, quiet bool) knowledge.Summary {
	var bar *progressbar.ProgressBar
	if isTerminal(stderr) {
		bar = progressbar.NewOptions(len(files), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("ingesting"),
			progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !quiet {
		fmt.Fprintln(tw, "FILE\tOUTCOME\tKIND\tCHUNKS\tTOKENS\tTIME\tDETAIL")
	}
	sum := st.IngestFiles(ctx, tenant, files, workers, func(r knowledge.FileResult) {
		if bar != nil {
			_ = bar.Add(1)
		}
		if quiet {
			return
		}
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\tFAILED (%s)\t\t\t\t%s\t%v\n", r.File.Source, knowledge.ErrorCode(r.Err), r.Duration.Round(time.Millisecond), r.Err)
			return
		}
		detail := strings.Join(r.Result.Warnings, "; ")
		fmt.Fprintf(tw, "%s\t%s v%d\t%s\t%d\t%d\t%s\t%s\n", r.File.Source, r.Result.Outcome, r.Result.Version, r.Result.Kind,
			r.Result.Chunks, r.Result.Tokens, r.Duration.Round(time.Millisecond), detail)
	})
	if bar != nil {
		_ = bar.Finish()
	}
	tw.Flush()
	rate := 0.0
	if s := sum.Duration.Seconds(); s > 0 {
		rate = float64(sum.Chunks) / s
	}
	fmt.Fprintf(stdout, "%d files: %d created, %d updated, %d unchanged, %d failed; %d chunks, %d tokens in %s (%.0f chunks/s)%s\n",
		sum.Files, sum.Created, sum.Updated, sum.Unchanged, sum.Failed, sum.Chunks, sum.Tokens, sum.Duration.Round(time.Millisecond), rate, peakMemory())
	return sum
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// demoFiles is the embedded demo knowledge base.
func demoFiles() ([]knowledge.File, error) {
	sub, err := fs.Sub(knowledge.DemoFS, "demo")
	if err != nil {
		return nil, err
	}
	return knowledge.FilesIn(sub)
}

// peakMemory reports the process's peak resident memory where Linux tells
// it (VmHWM), so large imports show that memory stays bounded.
func peakMemory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb); err == nil {
				return fmt.Sprintf("; peak memory %d MB", kb>>10)
			}
		}
	}
	return ""
}
