package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/dealdesk/dealdesk/auth"
	"github.com/dealdesk/dealdesk/knowledge"

	"github.com/jackc/pgx/v5/pgxpool"
)

// env is what a running subcommand has: its configuration and where to write.
type env struct {
	ctx    context.Context
	cfg    *Config
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// openDB validates the configuration (the model settings too when
// needModels) and opens the database. The caller closes the pool.
func (e *env) openDB(needModels bool) (*pgxpool.Pool, error) {
	if err := e.cfg.validate(true, needModels); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return e.cfg.openDB(e.ctx)
}

// openTenant opens the database and resolves a tenant by its slug; the
// caller closes the pool.
func (e *env) openTenant(needModels bool, slug string) (*pgxpool.Pool, auth.Tenant, error) {
	pool, err := e.openDB(needModels)
	if err != nil {
		return nil, auth.Tenant{}, err
	}
	t, err := auth.NewService(pool).TenantBySlug(e.ctx, slug)
	if err != nil {
		pool.Close()
		return nil, auth.Tenant{}, err
	}
	return pool, t, nil
}

// dayFlag parses an optional YYYY-MM-DD flag: nil when empty, a usage
// error naming the flag when it is not a date.
func dayFlag(flag, value string) (*time.Time, error) {
	if value == "" {
		return nil, nil
	}
	day, err := knowledge.ParseDate(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %s must be a date such as 2026-01-31", errUsage, flag)
	}
	t := day.Time()
	return &t, nil
}

// errUsage marks errors caused by the command line itself.
var errUsage = errors.New("usage")

// Main runs the dealdesk command with args (without the program name) and
// returns the process exit code: 0 success, 1 failure, 2 usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv == nil {
		getenv = lookupEnv
	}
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		topUsage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "dealdesk: unknown command %q\n\n", args[0])
		topUsage(stderr, cmds)
		return 2
	}
	cfg := cmd.cfg
	if err := cmd.parse(args[1:], stderr, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "dealdesk %s: %v\n", cmd.name, err)
		return 2
	}
	e := &env{ctx: ctx, cfg: cfg, stdout: stdout, stderr: stderr, log: cfg.logger(stderr)}
	if err := cmd.run(e, cmd.positional); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "dealdesk %s: %v\n\n", cmd.name, err)
			cmd.usage(stderr)
			return 2
		}
		fmt.Fprintf(stderr, "dealdesk %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

type boundCommand struct {
	*command
	cfg *Config
}

// commands builds every subcommand with a fresh configuration.
func commands() map[string]boundCommand {
	list := []func() boundCommand{serveCommand, migrateCommand, tenantsCommand, keysCommand, auditCommand, feedbackCommand, evalCommand, demoCommand, ingestCommand, searchCommand, reindexCommand, opportunitiesCommand, scoringCommand, versionCommand}
	out := map[string]boundCommand{}
	for _, f := range list {
		c := f()
		out[c.name] = c
	}
	return out
}

func newCommand(name, args, summary string, run func(*env, []string) error) (boundCommand, *Config) {
	cfg := &Config{LogLevel: "info", LogFormat: "json"}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return boundCommand{command: &command{name: name, args: args, summary: summary, fs: fs, run: run}, cfg: cfg}, cfg
}

func topUsage(w io.Writer, cmds map[string]boundCommand) {
	fmt.Fprintf(w, "dealdesk: an AI sales assistant grounded in your private knowledge base.\n\nUsage: dealdesk <command> [flags] [args]\n\nCommands:\n")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s %s\t%s\n", n, cmds[n].args, cmds[n].summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'dealdesk <command> --help' for its flags and DEALDESK_* variables.\n")
}

// Version is the build's version: the module version or VCS revision.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

func versionCommand() boundCommand {
	c, _ := newCommand("version", "", "Print the version", nil)
	c.run = func(e *env, _ []string) error {
		fmt.Fprintln(e.stdout, Version())
		return nil
	}
	return c
}
