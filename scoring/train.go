package scoring

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// TrainOptions tune training. Zero values take the defaults.
type TrainOptions struct {
	// MinOutcomes is how many closed opportunities a tenant needs before
	// a fitted model replaces the cold-start rules (default 200): with a
	// 20% test split that leaves at least 40 held-out outcomes, about the
	// fewest on which AUC (standard error near 0.08) can tell a model
	// from the rules at all.
	MinOutcomes int
	// MinClass is the fewest won and the fewest lost needed (default 30).
	MinClass int
	// Exclude lists fields never to use (path.Match patterns such as
	// "tags" or "asymmetrique*"): fields filled in after the outcome.
	Exclude []string
	// TestFraction is held out for validation (default 0.2); the same
	// share of the rest calibrates.
	TestFraction float64
	// Folds for choosing the penalty (default 5).
	Folds int
	// Split chooses the held-out test set: "auto" (default: by close
	// date when every closed opportunity has one, else by open date, else
	// random), "close_date", "open_date" or "random" (stratified).
	Split string
	// Seed makes random splits reproducible (default 1).
	Seed uint64
	// Now is the training time (default time.Now).
	Now time.Time
}

func (o *TrainOptions) defaults() {
	if o.MinOutcomes <= 0 {
		o.MinOutcomes = 200
	}
	if o.MinClass <= 0 {
		o.MinClass = 30
	}
	if o.TestFraction <= 0 || o.TestFraction >= 0.5 {
		o.TestFraction = 0.2
	}
	if o.Folds < 2 {
		o.Folds = 5
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
}

// Report is what validation measured, stored with the model version.
type Report struct {
	// Split says how the held-out test set was chosen: "time (close_date)",
	// "time (open_date)" or "stratified random".
	Split       string   `json:"split"`
	Train       int      `json:"train"`
	Calibration string   `json:"calibration"`
	Test        int      `json:"test"`
	TestFrom    string   `json:"test_from,omitempty"`
	Lambda      float64  `json:"lambda,omitempty"`
	Features    int      `json:"features"`
	Columns     int      `json:"columns"`
	Excluded    []string `json:"excluded,omitempty"`
	// Model is the product model on the test split; Uncalibrated the same
	// before Platt scaling; Baseline a plain logistic regression on the
	// raw fields (numbers as-is, categories one-hot, default L2 penalty of
	// 1, no engineered features, no calibration) fitted on the whole
	// training part and tested on the same split.
	Model        Metrics  `json:"model"`
	Uncalibrated *Metrics `json:"uncalibrated,omitempty"`
	Baseline     *Metrics `json:"baseline,omitempty"`
	Note         string   `json:"note,omitempty"`
}

// ErrTooFewOutcomes means the history cannot support a fitted model.
var ErrTooFewOutcomes = errors.New("too few closed opportunities")

// lambdas is the penalty grid cross-validation chooses from.
var lambdas = []float64{10000, 3000, 1000, 300, 100, 30, 10, 3, 1, 0.3, 0.1}

// Train builds a model from a tenant's opportunities: a validated logistic
// model when the closed history is large enough, else the cold-start rules
// (with the rules' metrics on whatever history there is).
func Train(all []*Opportunity, opt TrainOptions) (*Model, error) {
	opt.defaults()
	var closed []*Opportunity
	won := 0
	for _, o := range all {
		if o.closed() {
			closed = append(closed, o)
			if o.Outcome == OutcomeWon {
				won++
			}
		}
	}
	stageDays := stageDurations(all)
	if len(closed) < opt.MinOutcomes || won < opt.MinClass || len(closed)-won < opt.MinClass {
		m := rulesModel(stageDays)
		m.TrainedAt, m.TrainedOn = opt.Now, len(closed)
		m.Report = &Report{Split: "none (rules are not fitted)", Test: len(closed),
			Note: fmt.Sprintf("cold start: %d closed opportunities (%d won, %d lost); a fitted model needs %d with at least %d of each",
				len(closed), won, len(closed)-won, opt.MinOutcomes, opt.MinClass)}
		if len(closed) > 0 {
			p, y := make([]float64, len(closed)), make([]float64, len(closed))
			for i, o := range closed {
				p[i] = m.Predict(o, opt.Now).Probability
				y[i] = label(o)
			}
			m.Report.Model = evaluate(p, y)
		}
		return m, nil
	}

	train, test, split, err := splitHoldout(closed, opt.Split, opt.TestFraction, opt.Seed)
	if err != nil {
		return nil, err
	}
	fit := train
	rep := &Report{Split: split, Train: len(fit), Test: len(test), Excluded: opt.Exclude,
		Calibration: fmt.Sprintf("Platt scaling on %d-fold out-of-fold log-odds of the training part", opt.Folds)}
	if d, ok := splitDate(test[0], split); ok {
		rep.TestFrom = d
	}

	enc := newEncoder(fit, opt.Exclude)
	if enc.Width == 0 {
		return nil, errors.New("train: no usable features (every field is constant, missing or excluded)")
	}
	rows, y := encodeAll(enc, fit)
	lambda, oof, err := chooseLambda(rows, y, enc.Width, opt.Folds, opt.Seed)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	lr, err := fitLogistic(rows, y, enc.Width, lambda, nil)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	means := make([]float64, enc.Width)
	for _, r := range rows {
		for k, j := range r.idx {
			means[j] += r.val[k]
		}
	}
	base := lr.Intercept
	for j := range means {
		means[j] /= float64(len(rows))
		base += lr.W[j] * means[j]
	}
	m := &Model{Method: MethodLogistic, TrainedAt: opt.Now, TrainedOn: len(closed), Bands: DefaultBands, StageDays: stageDays,
		Encoder: enc, Fit: lr, ColMeans: means, Platt: fitPlatt(oof, y), BaseLogit: base, Lambda: lambda}

	testRows, testY := encodeAll(enc, test)
	p, raw := make([]float64, len(testRows)), make([]float64, len(testRows))
	for i, r := range testRows {
		p[i] = m.calibrated(r)
		raw[i] = sigmoid(lr.logit(r))
	}
	rep.Lambda, rep.Features, rep.Columns = lambda, len(enc.Fields), enc.Width
	rep.Model = evaluate(p, testY)
	u := evaluate(raw, testY)
	rep.Uncalibrated = &u
	if b, err := baseline(train, test, opt.Exclude); err == nil {
		rep.Baseline = &b
	} else {
		rep.Note = "baseline failed: " + err.Error()
	}
	m.Report = rep
	return m, nil
}

func label(o *Opportunity) float64 {
	if o.Outcome == OutcomeWon {
		return 1
	}
	return 0
}

func encodeAll(e *Encoder, opps []*Opportunity) ([]row, []float64) {
	rows, y := make([]row, len(opps)), make([]float64, len(opps))
	for i, o := range opps {
		rows[i] = e.encode(o)
		y[i] = label(o)
	}
	return rows, y
}

// baseline fits the plain logistic regression on the raw fields.
func baseline(train, test []*Opportunity, exclude []string) (Metrics, error) {
	enc := newRawEncoder(train, exclude)
	rows, y := encodeAll(enc, train)
	lr, err := fitLogistic(rows, y, enc.Width, 1, nil)
	if err != nil {
		return Metrics{}, err
	}
	tr, ty := encodeAll(enc, test)
	p := make([]float64, len(tr))
	for i, r := range tr {
		p[i] = sigmoid(lr.logit(r))
	}
	return evaluate(p, ty), nil
}

// splitHoldout holds out the latest frac of opportunities when (nearly) all
// are dated, by close date, else by open date; otherwise a random split
// stratified by outcome.
func splitHoldout(opps []*Opportunity, mode string, frac float64, seed uint64) (rest, held []*Opportunity, how string, err error) {
	dated := func(get func(*Opportunity) (time.Time, bool)) bool {
		n := 0
		for _, o := range opps {
			if _, ok := get(o); ok {
				n++
			}
		}
		return n == len(opps)
	}
	nHeld := max(1, int(math.Round(frac*float64(len(opps)))))
	for _, by := range []struct {
		name string
		get  func(*Opportunity) (time.Time, bool)
	}{{"close_date", (*Opportunity).closeTime}, {"open_date", (*Opportunity).openTime}} {
		if mode != "" && mode != "auto" && mode != by.name {
			continue
		}
		if !dated(by.get) {
			if mode == by.name {
				return nil, nil, "", fmt.Errorf("%w: split by %s, but not every closed opportunity has one", ErrInvalid, by.name)
			}
			continue
		}
		sorted := slices.Clone(opps)
		sort.SliceStable(sorted, func(i, j int) bool {
			a, _ := by.get(sorted[i])
			b, _ := by.get(sorted[j])
			if !a.Equal(b) {
				return a.Before(b)
			}
			return sorted[i].ExternalID < sorted[j].ExternalID
		})
		cut := len(sorted) - nHeld
		return sorted[:cut], sorted[cut:], "time (" + by.name + ")", nil
	}
	if mode != "" && mode != "auto" && mode != "random" {
		return nil, nil, "", fmt.Errorf("%w: unknown split %q: want auto, close_date, open_date or random", ErrInvalid, mode)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5c0e))
	var pos, neg []*Opportunity
	for _, o := range opps {
		if o.Outcome == OutcomeWon {
			pos = append(pos, o)
		} else {
			neg = append(neg, o)
		}
	}
	for _, g := range [][]*Opportunity{pos, neg} {
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		k := int(math.Round(frac * float64(len(g))))
		held = append(held, g[:k]...)
		rest = append(rest, g[k:]...)
	}
	return rest, held, "stratified random", nil
}

func splitDate(o *Opportunity, split string) (string, bool) {
	switch {
	case strings.Contains(split, "close_date"):
		return o.CloseDate, true
	case strings.Contains(split, "open_date"):
		return o.OpenDate, true
	}
	return "", false
}

// chooseLambda picks the penalty with the lowest mean cross-validated log
// loss, over stratified folds of the fitting part only.
//
// It also returns the out-of-fold log-odds at the chosen penalty: every
// example scored by a model that did not see it, which is what the Platt
// calibration is fitted on.
func chooseLambda(rows []row, y []float64, p, folds int, seed uint64) (float64, []float64, error) {
	rng := rand.New(rand.NewPCG(seed, 0xf01d))
	fold := make([]int, len(rows))
	var pos, neg []int
	for i, v := range y {
		if v > 0.5 {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	for _, g := range [][]int{pos, neg} {
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		for k, i := range g {
			fold[i] = k % folds
		}
	}
	loss := make([]float64, len(lambdas))
	oof := make([][]float64, len(lambdas))
	for i := range oof {
		oof[i] = make([]float64, len(rows))
	}
	for f := 0; f < folds; f++ {
		var tr, te []row
		var ty, tey []float64
		var teIdx []int
		for i := range rows {
			if fold[i] == f {
				te, tey, teIdx = append(te, rows[i]), append(tey, y[i]), append(teIdx, i)
			} else {
				tr, ty = append(tr, rows[i]), append(ty, y[i])
			}
		}
		var warm *logistic
		for li, l := range lambdas {
			m, err := fitLogistic(tr, ty, p, l, warm)
			if err != nil {
				return 0, nil, err
			}
			warm = m
			for i, r := range te {
				z := m.logit(r)
				oof[li][teIdx[i]] = z
				loss[li] += log1pexp(z) - tey[i]*z
			}
		}
	}
	best := 0
	for i := range loss {
		if loss[i] < loss[best] {
			best = i
		}
	}
	return lambdas[best], oof[best], nil
}
