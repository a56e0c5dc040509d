package prompts

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"slices"
	"strings"
	"testing/fstest"

	"github.com/dealdesk/dealdesk/providers"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrNotFound means no template has the requested name or version.
	ErrNotFound = errors.New("prompt template not found")
	// ErrInvalidPolicy means a selection policy cannot be applied as
	// written (a share outside [0, 1], a share without a candidate).
	ErrInvalidPolicy = errors.New("invalid prompt policy")
)

//go:embed templates/*.tmpl
var embedded embed.FS

// Registry holds every version of every template. It is immutable and
// safe for concurrent use.
type Registry struct {
	// byName holds each name's versions in ascending order.
	byName map[string][]*Template
}

// Load parses the templates embedded in the binary (prompts/templates).
func Load() (*Registry, error) {
	sub, err := fs.Sub(embedded, "templates")
	if err != nil {
		return nil, err
	}
	return LoadFS(sub)
}

// LoadWith parses the embedded templates together with the *.tmpl files
// at the root of extra: new versions on trial (an ops checkout, a test's
// deliberately broken version) beside the shipped ones. A file of extra
// with the name of an embedded one replaces it.
func LoadWith(extra fs.FS) (*Registry, error) {
	merged := fstest.MapFS{}
	sub, err := fs.Sub(embedded, "templates")
	if err != nil {
		return nil, err
	}
	for _, fsys := range []fs.FS{sub, extra} {
		files, err := fs.Glob(fsys, "*.tmpl")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			merged[f] = &fstest.MapFile{Data: b}
		}
	}
	return LoadFS(merged)
}

// LoadFS parses every *.tmpl file at the root of fsys and checks each
// one before accepting any: the front matter is complete and agrees with
// the file name (<name>@v<version>.tmpl), the output schema compiles,
// both sections are defined, and the template renders the task's sample
// inputs (Chinese, English and language-neutral) with the schema and the
// fenced sources in the prompt. Each name and version is declared by one
// file. It reports every bad file at once, each error naming its file.
func LoadFS(fsys fs.FS) (*Registry, error) {
	files, err := fs.Glob(fsys, "*.tmpl")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("load prompt templates: no *.tmpl files")
	}
	r := &Registry{byName: map[string][]*Template{}}
	byID := map[string][]string{} // ID -> files declaring it
	var errs []error
	for _, file := range files {
		t, err := loadFile(fsys, file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		byID[t.ID()] = append(byID[t.ID()], file)
		if want := t.ID() + ".tmpl"; file != want {
			errs = append(errs, fmt.Errorf("%s: declares %s, so the file must be named %s (was the version not bumped?)", file, t.ID(), want))
			continue
		}
		r.byName[t.Name] = append(r.byName[t.Name], t)
	}
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		if files := byID[id]; len(files) > 1 {
			errs = append(errs, fmt.Errorf("%s: %s is declared by more than one file (%s)", files[1], id, strings.Join(files, ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("load prompt templates: %w", errors.Join(errs...))
	}
	for _, versions := range r.byName {
		slices.SortFunc(versions, func(a, b *Template) int { return a.Version - b.Version })
	}
	return r, nil
}

func loadFile(fsys fs.FS, file string) (*Template, error) {
	content, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	t, err := parseTemplate(file, content)
	if err != nil {
		return nil, err
	}
	return t, t.check()
}

// check renders the template with its task's sample inputs, so that a
// field the input does not have, a broken action or a prompt without its
// schema or sources fails at start-up rather than on a customer request.
func (t *Template) check() error {
	for _, in := range tasks[t.Task].samples() {
		system, user, err := t.Render(in)
		if err != nil {
			return err
		}
		if system == "" || user == "" {
			return errors.New("a section renders empty")
		}
		prompt := system + "\n" + user
		if !strings.Contains(prompt, t.schemaText) {
			return errors.New("the prompt does not show the output schema: call {{schema}} in a section")
		}
		for _, s := range sampleSources(in) {
			if !strings.Contains(user, `<source id="`+s.ID+`"`) {
				return fmt.Errorf("the user section does not fence source %s: call {{sources .Sources}}", s.ID)
			}
		}
	}
	return nil
}

// List returns every template, sorted by name and version.
func (r *Registry) List() []Template {
	var out []Template
	for _, name := range slices.Sorted(maps.Keys(r.byName)) {
		for _, t := range r.byName[name] {
			out = append(out, *t)
		}
	}
	return out
}

// Get returns one version of a template.
func (r *Registry) Get(name string, version int) (*Template, error) {
	for _, t := range r.byName[name] {
		if t.Version == version {
			return t, nil
		}
	}
	if _, ok := r.byName[name]; !ok {
		return nil, fmt.Errorf("%w: no template named %q", ErrNotFound, name)
	}
	return nil, fmt.Errorf("%w: %s has no version %d", ErrNotFound, name, version)
}

// Latest returns the highest version of a template that is not a draft.
func (r *Registry) Latest(name string) (*Template, error) {
	versions, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: no template named %q", ErrNotFound, name)
	}
	for _, t := range slices.Backward(versions) {
		if !t.Draft {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: %s has only draft versions", ErrNotFound, name)
}

// Policy says which version of a template a tenant uses. The caller
// stores policies; the registry only resolves them.
type Policy struct {
	Name string `json:"name"`
	// Version pins a version; 0 means the latest non-draft version.
	Version int `json:"version,omitempty"`
	// Candidate, when not 0, is a version that receives CandidateShare
	// (0 to 1) of the requests; the others get Version.
	Candidate      int     `json:"candidate,omitempty"`
	CandidateShare float64 `json:"candidate_share,omitempty"`
}

// Check reports whether p can be applied: its template and versions
// exist and its share is in range. Callers check a policy before storing
// it; Choose checks it again.
func (r *Registry) Check(p Policy) error {
	_, _, err := r.resolve(p)
	return err
}

// Choose picks the template a request uses under p. The choice depends
// only on the policy and requestKey: the same key always gets the same
// version, and over many keys the candidate gets CandidateShare of them.
// A key goes to the candidate when a hash of the template name and the
// key falls below the share, so raising the share only moves keys from
// the base version to the candidate, never back. Use a key that should
// stick to one version (a deal or user id) or a request id for a
// per-request split.
func (r *Registry) Choose(p Policy, requestKey string) (*Template, error) {
	base, candidate, err := r.resolve(p)
	if err != nil {
		return nil, err
	}
	if candidate != nil && bucket(p.Name, requestKey) < p.CandidateShare {
		return candidate, nil
	}
	return base, nil
}

// resolve returns the base and candidate (nil without one) templates of
// a policy.
func (r *Registry) resolve(p Policy) (base, candidate *Template, err error) {
	if math.IsNaN(p.CandidateShare) || p.CandidateShare < 0 || p.CandidateShare > 1 {
		return nil, nil, fmt.Errorf("%w: candidate share %v is outside [0, 1]", ErrInvalidPolicy, p.CandidateShare)
	}
	if p.Candidate == 0 && p.CandidateShare != 0 {
		return nil, nil, fmt.Errorf("%w: candidate share %v without a candidate version", ErrInvalidPolicy, p.CandidateShare)
	}
	if p.Version < 0 || p.Candidate < 0 {
		return nil, nil, fmt.Errorf("%w: versions start at 1", ErrInvalidPolicy)
	}
	if p.Version == 0 {
		base, err = r.Latest(p.Name)
	} else {
		base, err = r.Get(p.Name, p.Version)
	}
	if err != nil {
		return nil, nil, err
	}
	if p.Candidate != 0 {
		if candidate, err = r.Get(p.Name, p.Candidate); err != nil {
			return nil, nil, fmt.Errorf("candidate: %w", err)
		}
	}
	return base, candidate, nil
}

// bucket maps a template name and request key to a number in [0, 1),
// uniformly and stably across processes and releases.
func bucket(name, key string) float64 {
	h := sha256.Sum256([]byte(name + "\x00" + key))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

// taskNames lists the known tasks for error messages.
func taskNames() string {
	return strings.Join(slices.Sorted(maps.Keys(tasks)), ", ")
}

// sampleSources returns the sources of a sample input.
func sampleSources(in any) []providers.Source {
	if g, ok := in.(interface{ common() Common }); ok {
		return g.common().Sources
	}
	return nil
}
