package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// envName is the environment variable that sets a flag: --model-base-url is
// DEALDESK_MODEL_BASE_URL.
func envName(flagName string) string {
	return "DEALDESK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// command is one subcommand with its own flag set.
type command struct {
	name    string
	args    string // synopsis of positional arguments
	summary string
	fs      *flag.FlagSet
	run     func(env *env, args []string) error
	// env holds the flags that DEALDESK_* variables can set: the shared
	// configuration, not per-invocation arguments such as --tenant.
	env map[string]bool
	// positional are the arguments that are not flags, in order.
	positional []string
}

// configFlagsDone marks every flag defined so far as configuration that the
// environment can set.
func (c *command) configFlagsDone() {
	c.env = map[string]bool{}
	c.fs.VisitAll(func(f *flag.Flag) { c.env[f.Name] = true })
}

// parse applies DEALDESK_* variables first and then the command line, so a
// flag always wins over the environment.
func (c *command) parse(args []string, stderr io.Writer, getenv func(string) string) error {
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() { c.usage(stderr) }
	var errs []error
	c.fs.VisitAll(func(f *flag.Flag) {
		if !c.env[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := c.fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Flags may come before, between or after positional arguments
	// ("keys create --tenant acme" and "keys --tenant acme create").
	c.positional = nil
	for {
		if err := c.fs.Parse(args); err != nil {
			return err
		}
		args = c.fs.Args()
		if len(args) == 0 {
			return nil
		}
		c.positional = append(c.positional, args[0])
		args = args[1:]
	}
}

func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: dealdesk %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
	var flags []*flag.Flag
	c.fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) == 0 {
		return
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	fmt.Fprintf(w, "\nFlags (configuration can also be set with the variable shown; a flag wins):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range flags {
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		env := ""
		if c.env[f.Name] {
			env = envName(f.Name)
		}
		fmt.Fprintf(tw, "  --%s\t%s\tdefault %s\t%s\n", f.Name, env, def, f.Usage)
	}
	tw.Flush()
}

// stringList is a comma-separated list flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = nil
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func lookupEnv(k string) string { return os.Getenv(k) }
