package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/scoring"
	"github.com/dealdesk/dealdesk/store"
)

// opportunitiesCommand imports CRM opportunities from CSV exports.
func opportunitiesCommand() boundCommand {
	c, cfg := newCommand("opportunities", "import FILE", "Import opportunities from a CSV export (upsert by external id); bad rows are listed, good rows kept", nil)
	cfg.bindDatabase(c.fs)
	cfg.bindLog(c.fs)
	c.configFlagsDone()
	tenant := c.fs.String("tenant", "demo", "tenant slug")
	mapping := c.fs.String("map", "generic", "column mapping: "+strings.Join(scoring.MappingNames, ", ")+", or a JSON mapping file")
	keep := c.fs.Bool("keep-post-outcome", false, "also import the mapping's columns filled in after the outcome (they leak it: for measuring only)")
	noRetrain := c.fs.Bool("no-retrain", false, "do not train a new model when the import brings enough new outcomes")
	asJSON := c.fs.Bool("json", false, "print the result as JSON")
	c.run = func(e *env, args []string) error {
		if len(args) != 2 || args[0] != "import" {
			return fmt.Errorf("%w: want 'opportunities import FILE'", errUsage)
		}
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		pool, t, err := e.openTenant(false, *tenant)
		if err != nil {
			return err
		}
		defer pool.Close()
		svc := scoring.NewService(pool, nil, scoring.Config{Logger: e.log})
		var bar *progressbar.ProgressBar
		progress := func(done, total int) {
			if bar == nil && isTerminal(e.stderr) {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("importing"),
					progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
			}
			if bar != nil {
				_ = bar.Set(done)
			}
		}
		sc := store.Scope{Tenant: t.ID, Role: string(auth.RoleOps)}
		res, err := svc.Import(e.ctx, sc, f, scoring.ReadOptions{Mapping: *mapping, Dir: filepath.Dir(args[1]), KeepPostOutcome: *keep}, progress)
		if err != nil {
			return err
		}
		if bar != nil {
			_ = bar.Finish()
		}
		var model *scoring.Model
		if !*noRetrain && res.Closed > 0 {
			due, err := svc.RetrainDue(e.ctx, t.ID)
			if err != nil {
				return err
			}
			if due {
				if model, err = svc.Train(e.ctx, t.ID, scoring.TrainOptions{}, "import"); err != nil {
					return err
				}
			}
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		fmt.Fprintf(e.stdout, "%d rows: %d imported (%d created, %d updated, %d newly closed), %d errors\n",
			res.Rows, res.Imported, res.Created, res.Updated, res.Closed, len(res.Errors))
		if len(res.Dropped) > 0 {
			fmt.Fprintf(e.stdout, "left out post-outcome columns (they leak the outcome; --keep-post-outcome imports them): %s\n", strings.Join(res.Dropped, ", "))
		}
		for i, re := range res.Errors {
			if i == 20 {
				fmt.Fprintf(e.stdout, "... and %d more errors (--json lists all)\n", len(res.Errors)-20)
				break
			}
			fmt.Fprintf(e.stdout, "  line %d %s: %s %s\n", re.Line, re.ExternalID, re.Field, re.Error)
		}
		if model != nil {
			fmt.Fprintf(e.stdout, "trained model v%d (%s) on the new outcomes; see 'dealdesk scoring report'\n", model.Version, model.Method)
		}
		return nil
	}
	return c
}
