package assistant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tmc/langchaingo/llms"

	"github.com/dealdesk/dealdesk/assistant/trust"
	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/providers"
	"github.com/dealdesk/dealdesk/retrieval"
	"github.com/dealdesk/dealdesk/store"
)

var (
	// ErrFeatureDisabled means the tenant has switched the task off.
	ErrFeatureDisabled = errors.New("feature disabled for this tenant")
	// ErrInvalidOutput means the model's answer failed the task's schema
	// even after the repair attempt. The generation is stored as failed.
	ErrInvalidOutput = errors.New("model output failed validation after one repair attempt")
	// ErrInvalidInput marks a request the caller must fix.
	ErrInvalidInput = errors.New("invalid input")
)

// Config tunes the pipeline; the zero value is usable.
type Config struct {
	// MaxDocumentTokens bounds a task's own document (a transcript, a
	// tender); longer documents are cut and the answer says so. Default
	// 8000.
	MaxDocumentTokens int
	// SourceBudget, when positive, replaces every task's token budget for
	// retrieved sources.
	SourceBudget int
	// Timeout bounds one task call, retrieval and model included. Default
	// 3 minutes; the provider's own per-call limits apply inside it.
	Timeout time.Duration
}

func (c *Config) defaults() {
	if c.MaxDocumentTokens <= 0 {
		c.MaxDocumentTokens = 8000
	}
	if c.Timeout <= 0 {
		c.Timeout = 3 * time.Minute
	}
}

// Service runs the tasks. It is safe for concurrent use.
type Service struct {
	db       *pgxpool.Pool
	searcher *retrieval.Searcher
	models   *providers.Models
	registry *prompts.Registry
	cfg      Config
	log      *slog.Logger
}

// New returns a Service.
func New(db *pgxpool.Pool, searcher *retrieval.Searcher, models *providers.Models, registry *prompts.Registry, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, searcher: searcher, models: models, registry: registry, cfg: cfg, log: log}
}

// Registry is the prompt registry the service renders from.
func (s *Service) Registry() *prompts.Registry { return s.registry }

// Caller is who asks: the API key's scope (tenant, role, regions, key id),
// its name for the record, and the request id for logs.
type Caller struct {
	Scope     store.Scope
	Name      string
	RequestID string
}

// Options adjust one call.
type Options struct {
	// PromptVersion pins a template version (eval runs compare versions
	// this way); 0 follows the tenant's policy.
	PromptVersion int
	// Stream, when set, receives the answer as it is generated: kind
	// "token" with a piece of the model's text (placeholders already
	// unmasked), or "repair" when the first answer failed validation and
	// a corrected one follows. An error from Stream stops the call.
	Stream func(kind, text string) error
	// OnStart, when set, is called once the sources are retrieved and the
	// prompt chosen, with the generation's id, model and sources (a stream
	// shows them while the answer is written). It runs while the model call
	// is sent, so it may read only g's ID, Task, Model and Sources; Stream
	// is not called before it returns, and an error from it cancels the
	// call.
	OnStart func(g *Generation) error
}

// Source is a retrieved source as the answer cites it.
type Source struct {
	retrieval.Source
	// Cited reports whether the answer cites this source.
	Cited bool `json:"cited"`
}

// ModelInfo says what produced an answer.
type ModelInfo struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	// Offline is true for the offline composer: extraction and templates,
	// no language model.
	Offline bool   `json:"offline"`
	Label   string `json:"label"`
	// Prompt is the template ID ("email_draft@v1"), PromptVersion its
	// version and PromptDigest a hash of its text.
	Prompt        string `json:"prompt"`
	PromptVersion int    `json:"prompt_version"`
	PromptDigest  string `json:"prompt_digest"`
}

// Uncited is a part of an answer that states something without citing a
// retrieved source.
type Uncited struct {
	Path string `json:"path"`
	Text string `json:"text"`
}

// Checks are what the trust layer found in one answer.
type Checks struct {
	// CitationsValid is false when the model cited sources that were not
	// retrieved; those citations are in UnknownCitations and were removed
	// from the answer.
	CitationsValid   bool      `json:"citations_valid"`
	Cited            []string  `json:"cited"`
	UnknownCitations []string  `json:"unknown_citations,omitempty"`
	Uncited          []Uncited `json:"uncited,omitempty"`
	// SpansNotFound are the JSON paths of "span" quotes that are not
	// verbatim text of the task's document.
	SpansNotFound []string `json:"spans_not_found,omitempty"`
	// PIIMasked counts the personal data replaced by placeholders before
	// anything reached the model, by kind.
	PIIMasked map[string]int `json:"pii_masked,omitempty"`
	// SuspiciousSources are the labels of retrieved sources with text
	// that reads as instructions to a model (kept as data, never obeyed).
	SuspiciousSources []string `json:"suspicious_sources,omitempty"`
	// Repaired is true when the first answer failed validation and the
	// repaired one is shown.
	Repaired bool     `json:"repaired"`
	Warnings []string `json:"warnings,omitempty"`
}

// Timings are the milliseconds spent in each stage.
type Timings struct {
	Total     float64 `json:"total_ms"`
	Retrieval float64 `json:"retrieval_ms"`
	Model     float64 `json:"model_ms"`
}

// Generation is a task's answer and its record.
type Generation struct {
	ID   uuid.UUID `json:"generation_id"`
	Task string    `json:"task"`
	// Output is the task's structured answer, unmasked for the caller.
	Output    map[string]any  `json:"output"`
	Sources   []Source        `json:"sources"`
	Model     ModelInfo       `json:"model"`
	Checks    Checks          `json:"checks"`
	Usage     providers.Usage `json:"usage"`
	Timings   Timings         `json:"timings"`
	Degraded  []string        `json:"degraded,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// call is the state of one Run.
type call struct {
	s       *Service
	caller  Caller
	opts    Options
	spec    spec
	masker  *trust.Masker
	input   any // masked, with sources
	doc     string
	tmpl    *prompts.Template
	sources []retrieval.Source
	gen     *Generation
	raw     string
	masked  map[string]any // output as the model wrote it (masked)
	started time.Time
}

// Run runs the task that input (a prompts.*Input value, Sources left
// empty) belongs to, for caller.
func (s *Service) Run(ctx context.Context, caller Caller, input any, opts Options) (*Generation, error) {
	task, err := taskOf(input)
	if err != nil {
		return nil, err
	}
	if err := validateInput(input); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	c := &call{s: s, caller: caller, opts: opts, spec: specs[task], masker: &trust.Masker{}, started: time.Now()}
	c.gen = &Generation{ID: uuid.New(), Task: task, Sources: []Source{}}
	if err := c.prepare(input); err != nil {
		return nil, err
	}
	// The tenant's settings are read while the searches run: neither needs
	// the other, and a switched-off feature still answers with its error.
	var policy prompts.Policy
	var policyErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		policy, policyErr = s.tenantPolicy(ctx, caller.Scope, task)
	}()
	err = c.retrieve(ctx)
	<-read
	if policyErr != nil {
		return nil, policyErr
	}
	if err != nil {
		return nil, err
	}
	if err := c.choosePrompt(policy); err != nil {
		return nil, err
	}
	// The record is written while the model works: the request then waits
	// only for its completion, and a call that fails at the model, or
	// whose caller leaves, is recorded too.
	write := s.begin(ctx, c)
	written := make(chan error, 1)
	go func() { written <- write() }()
	genCtx, cancelGen := context.WithCancel(ctx)
	defer cancelGen()
	waitStart := c.start(cancelGen)
	err = c.generate(genCtx)
	if serr := waitStart(); serr != nil {
		err = serr // the caller left; the model call was cancelled for it
	}
	if werr := <-written; werr != nil {
		return nil, fmt.Errorf("store generation: %w", werr)
	}
	if err == nil {
		c.verify()
		c.gen.Output = mapStrings(c.masked, c.masker.Unmask).(map[string]any)
	}
	c.gen.Timings.Total = ms(time.Since(c.started))
	if err != nil {
		// The failure is a fact worth keeping: which prompt and model
		// failed how, even for a caller that has gone. The caller still
		// gets the error.
		rctx, cancel := recordContext(ctx)
		defer cancel()
		if ferr := s.finish(rctx, c, err); ferr != nil {
			s.log.Error("store failed generation", "err", ferr, "generation_id", c.gen.ID)
		}
		return nil, &CallError{Generation: c.gen, Err: err}
	}
	if err := s.finish(ctx, c, nil); err != nil {
		return nil, fmt.Errorf("store generation: %w", err)
	}
	return c.gen, nil
}

// CallError is Run's error for a call that reached the model and failed
// there (an invalid answer after its repair, a model error, the caller
// leaving): its record is stored as failed, and Generation says which
// prompt and model failed, with the tokens and time spent (no Output). It
// unwraps to the failure.
type CallError struct {
	Generation *Generation
	Err        error
}

func (e *CallError) Error() string { return e.Err.Error() }
func (e *CallError) Unwrap() error { return e.Err }

// start calls OnStart while the model call is being sent, since the model
// cannot answer before it is sent anyway: a streamed answer's first token
// then waits only for the model. The returned wait blocks until OnStart
// has returned and gives its error; a streamed event waits for it too, so
// that the start event always comes first and nothing writes to the
// stream at the same time. An OnStart error (the client left) cancels the
// model call.
func (c *call) start(cancel context.CancelFunc) (wait func() error) {
	if c.opts.OnStart == nil {
		return func() error { return nil }
	}
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		if err = c.opts.OnStart(c.gen); err != nil {
			cancel()
		}
	}()
	wait = func() error {
		<-done
		return err
	}
	if stream := c.opts.Stream; stream != nil {
		c.opts.Stream = func(kind, text string) error {
			if err := wait(); err != nil {
				return err
			}
			return stream(kind, text)
		}
	}
	return wait
}

// prepare masks the input and bounds the task's document.
func (c *call) prepare(input any) error {
	masked, err := maskInput(c.masker, input)
	if err != nil {
		return fmt.Errorf("mask input: %w", err)
	}
	if c.spec.document != nil {
		doc := trust.CleanText(c.spec.document(masked))
		if n := lang.CountTokens(doc); n > c.s.cfg.MaxDocumentTokens {
			doc = lang.TruncateTokens(doc, c.s.cfg.MaxDocumentTokens)
			c.gen.Checks.Warnings = append(c.gen.Checks.Warnings, fmt.Sprintf(
				"the document has %d tokens; only the first %d were analysed", n, c.s.cfg.MaxDocumentTokens))
		}
		c.doc = doc
		masked = setDocument(masked, doc)
	}
	c.input = masked
	return nil
}

// setDocument returns in with its document field replaced.
func setDocument(in any, doc string) any {
	v := reflect.New(reflect.TypeOf(in)).Elem()
	v.Set(reflect.ValueOf(in))
	for _, name := range []string{"Transcript", "Tender", "Text"} {
		if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.String {
			f.SetString(doc)
			break
		}
	}
	return v.Interface()
}

func (c *call) choosePrompt(policy prompts.Policy) error {
	var err error
	if c.opts.PromptVersion > 0 {
		c.tmpl, err = c.s.registry.Get(c.spec.name, c.opts.PromptVersion)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidInput, err)
		}
	} else {
		// The A/B key is a hash of the request, needed only for a split.
		key := ""
		if policy.Candidate != 0 {
			raw, _ := marshal(c.input)
			sum := sha256.Sum256(raw)
			key = hex.EncodeToString(sum[:])
		}
		c.tmpl, err = c.s.registry.Choose(policy, key)
		if err != nil {
			return fmt.Errorf("choose prompt for %s: %w", c.spec.name, err)
		}
	}
	info := c.s.models.Info
	c.gen.Model = ModelInfo{
		Provider: info.Provider, Name: info.ChatModel, Offline: info.Offline, Label: info.Label,
		Prompt: c.tmpl.ID(), PromptVersion: c.tmpl.Version, PromptDigest: c.tmpl.Digest,
	}
	return nil
}

// retrieve runs the task's searches concurrently, merges their hits by
// rank, packs them into the budget and masks them as the prompt's sources.
func (c *call) retrieve(ctx context.Context) error {
	start := time.Now()
	searches := c.spec.searches(c.input)
	results := make([]retrieval.Result, len(searches))
	errs := make([]error, len(searches))
	var wg sync.WaitGroup
	for i, q := range searches {
		if strings.TrimSpace(q.text) == "" {
			continue
		}
		wg.Go(func() {
			results[i], errs[i] = c.s.searcher.Search(ctx, retrieval.Query{
				Text: q.text, Scope: c.caller.Scope, Filters: q.filters, K: q.k, NoSnippets: true,
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("retrieve: %w", err)
	}
	merged := mergeHits(results)
	degraded := map[string]bool{}
	for _, r := range results {
		for _, d := range r.Degraded {
			if !degraded[d] {
				degraded[d] = true
				c.gen.Degraded = append(c.gen.Degraded, d)
			}
		}
	}
	budget := c.spec.budget
	if c.s.cfg.SourceBudget > 0 {
		budget = c.s.cfg.SourceBudget
	}
	c.sources = retrieval.Pack(merged, budget)
	prompt := make([]providers.Source, len(c.sources))
	for i, src := range c.sources {
		prompt[i] = providers.Source{ID: src.Label, Title: c.masker.Mask(src.Title), Kind: src.Kind, Text: c.masker.Mask(src.Text)}
		if trust.LooksLikeInjection(src.Text) {
			c.gen.Checks.SuspiciousSources = append(c.gen.Checks.SuspiciousSources, src.Label)
		}
		c.gen.Sources = append(c.gen.Sources, Source{Source: src})
	}
	prompt = trust.CleanSources(prompt)
	c.input = withCommon(c.input, func(cm *prompts.Common) { cm.Sources = prompt })
	c.gen.Timings.Retrieval = ms(time.Since(start))
	return nil
}

// mergeHits interleaves the hits of several searches by rank (every
// search's first hit, then every second hit, ...), keeping each chunk once.
func mergeHits(results []retrieval.Result) []retrieval.Hit {
	var merged []retrieval.Hit
	seen := map[string]bool{}
	for rank := 0; ; rank++ {
		more := false
		for _, r := range results {
			if rank < len(r.Hits) {
				more = true
				if h := r.Hits[rank]; !seen[h.SourceID] {
					seen[h.SourceID] = true
					merged = append(merged, h)
				}
			}
		}
		if !more {
			return merged
		}
	}
}

// generate renders the prompt, calls the model, and parses and validates
// the answer, repairing it once.
func (c *call) generate(ctx context.Context) error {
	system, user, err := c.tmpl.Render(c.input)
	if err != nil {
		return fmt.Errorf("render %s: %w", c.tmpl.ID(), err)
	}
	var model llms.Model = c.s.models.LLM
	if c.s.models.Info.Offline {
		model = &composerModel{tmpl: c.tmpl, input: c.input}
	}
	start := time.Now()
	defer func() { c.gen.Timings.Model = ms(time.Since(start)) }()

	content, err := c.ask(ctx, model, system, user, c.tmpl.Temperature)
	if err != nil {
		return err
	}
	out, verr := c.parse(content)
	if verr != nil {
		c.gen.Checks.Repaired = true
		if c.opts.Stream != nil {
			if err := c.opts.Stream("repair", verr.Error()); err != nil {
				return err
			}
		}
		rsys, ruser := prompts.RepairPrompt(c.tmpl, content, verr)
		content, err = c.ask(ctx, model, rsys, ruser, 0)
		if err != nil {
			return err
		}
		if out, verr = c.parse(content); verr != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidOutput, c.tmpl.ID(), verr)
		}
	}
	c.masked = out
	return nil
}

// ask makes one model call, streaming to the caller when asked to, and
// adds its usage to the generation's.
func (c *call) ask(ctx context.Context, model llms.Model, system, user string, temperature float64) (string, error) {
	c.raw = ""
	opts := []llms.CallOption{llms.WithTemperature(temperature), llms.WithJSONMode()}
	if c.tmpl.MaxTokens > 0 {
		opts = append(opts, llms.WithMaxTokens(c.tmpl.MaxTokens))
	}
	var unmask *streamUnmasker
	if c.opts.Stream != nil {
		unmask = &streamUnmasker{masker: c.masker, emit: func(s string) error { return c.opts.Stream("token", s) }}
		opts = append(opts, llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			return unmask.write(string(chunk))
		}))
	}
	resp, err := model.GenerateContent(ctx, []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, system),
		llms.TextParts(llms.ChatMessageTypeHuman, user),
	}, opts...)
	if err != nil {
		return "", err
	}
	if unmask != nil {
		if err := unmask.flush(); err != nil {
			return "", err
		}
	}
	if len(resp.Choices) == 0 || resp.Choices[0] == nil {
		return "", fmt.Errorf("%w: the model returned no choices", ErrInvalidOutput)
	}
	u := providers.UsageOf(resp)
	c.gen.Usage.PromptTokens += u.PromptTokens
	c.gen.Usage.CompletionTokens += u.CompletionTokens
	c.gen.Usage.TotalTokens += u.TotalTokens
	c.gen.Usage.Estimated = c.gen.Usage.Estimated || u.Estimated
	c.raw = resp.Choices[0].Content
	return c.raw, nil
}

// parse extracts the JSON object of an answer and validates it.
func (c *call) parse(content string) (map[string]any, error) {
	v, err := prompts.ParseJSONOutput(content)
	if err != nil {
		return nil, err
	}
	if err := c.tmpl.Schema.Validate(v); err != nil {
		return nil, err
	}
	out, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the answer is not a JSON object")
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
