package scoring

import (
	"errors"
	"math"
)

// row is one encoded example: the non-zero columns and their values. The
// intercept is implicit.
type row struct {
	idx []int32
	val []float64
}

func (r row) dot(w []float64) float64 {
	s := 0.0
	for k, j := range r.idx {
		s += w[j] * r.val[k]
	}
	return s
}

// logistic is a fitted logistic regression: logit = Intercept + W·x.
type logistic struct {
	Intercept float64   `json:"intercept"`
	W         []float64 `json:"weights"`
}

func (m *logistic) logit(r row) float64 { return m.Intercept + r.dot(m.W) }

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func logitOf(p float64) float64 {
	p = math.Min(math.Max(p, 1e-9), 1-1e-9)
	return math.Log(p / (1 - p))
}

// log1pexp is log(1+e^z) without overflow.
func log1pexp(z float64) float64 {
	if z > 35 {
		return z
	}
	if z < -35 {
		return math.Exp(z)
	}
	return math.Log1p(math.Exp(z))
}

// fitLogistic minimises the summed log loss plus lambda/2·|W|² (the
// intercept is not penalised) by Newton's method with step halving. The
// objective is convex, so this converges in a handful of iterations; warm
// (a previous fit, possibly nil) speeds up a path of lambdas.
func fitLogistic(rows []row, y []float64, p int, lambda float64, warm *logistic) (*logistic, error) {
	n := len(rows)
	if n == 0 {
		return nil, errors.New("no examples")
	}
	d := p + 1 // parameter 0 is the intercept
	beta := make([]float64, d)
	if warm != nil && len(warm.W) == p {
		beta[0] = warm.Intercept
		copy(beta[1:], warm.W)
	} else {
		pos := 0.0
		for _, v := range y {
			pos += v
		}
		beta[0] = logitOf((pos + 0.5) / (float64(n) + 1))
	}
	objective := func(b []float64) float64 {
		f := 0.0
		for i, r := range rows {
			z := b[0]
			for k, j := range r.idx {
				z += b[j+1] * r.val[k]
			}
			f += log1pexp(z) - y[i]*z
		}
		for j := 1; j < d; j++ {
			f += 0.5 * lambda * b[j] * b[j]
		}
		return f
	}
	h := make([]float64, d*d)
	g := make([]float64, d)
	cols := make([]int, 0, 64)
	vals := make([]float64, 0, 64)
	obj := objective(beta)
	for iter := 0; iter < 100; iter++ {
		clear(h)
		clear(g)
		for i, r := range rows {
			z := beta[0]
			for k, j := range r.idx {
				z += beta[j+1] * r.val[k]
			}
			pr := sigmoid(z)
			res := pr - y[i]
			wt := pr * (1 - pr)
			cols = append(cols[:0], 0)
			vals = append(vals[:0], 1)
			for k, j := range r.idx {
				cols = append(cols, int(j)+1)
				vals = append(vals, r.val[k])
			}
			for a, ca := range cols {
				va := vals[a]
				g[ca] += res * va
				wa := wt * va
				rowOff := ca * d
				for b := a; b < len(cols); b++ {
					h[rowOff+cols[b]] += wa * vals[b]
				}
			}
		}
		// Only the upper triangle was accumulated (per example, columns
		// are ascending within a row, but not across all pairs): fold it.
		for a := 0; a < d; a++ {
			for b := a + 1; b < d; b++ {
				s := h[a*d+b] + h[b*d+a]
				h[a*d+b], h[b*d+a] = s, s
			}
		}
		for j := 1; j < d; j++ {
			g[j] += lambda * beta[j]
			h[j*d+j] += lambda
		}
		for j := 0; j < d; j++ {
			h[j*d+j] += 1e-9 * (1 + h[j*d+j])
		}
		step, err := choleskySolve(h, g, d)
		if err != nil {
			return nil, err
		}
		t := 1.0
		next := make([]float64, d)
		var nobj float64
		for range 30 {
			for j := range beta {
				next[j] = beta[j] - t*step[j]
			}
			nobj = objective(next)
			if nobj <= obj+1e-12*math.Abs(obj) {
				break
			}
			t /= 2
		}
		maxStep := 0.0
		for j := range step {
			maxStep = math.Max(maxStep, math.Abs(t*step[j]))
		}
		copy(beta, next)
		done := obj-nobj < 1e-10*(1+math.Abs(obj)) || maxStep < 1e-9
		obj = nobj
		if done {
			break
		}
	}
	return &logistic{Intercept: beta[0], W: beta[1:]}, nil
}

// choleskySolve solves A x = b for a symmetric positive definite A (d×d,
// row-major), leaving A and b untouched.
func choleskySolve(a, b []float64, d int) ([]float64, error) {
	l := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j <= i; j++ {
			s := a[i*d+j]
			for k := 0; k < j; k++ {
				s -= l[i*d+k] * l[j*d+k]
			}
			if i == j {
				if s <= 0 {
					return nil, errors.New("singular Hessian")
				}
				l[i*d+i] = math.Sqrt(s)
			} else {
				l[i*d+j] = s / l[j*d+j]
			}
		}
	}
	x := make([]float64, d)
	for i := 0; i < d; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*d+k] * x[k]
		}
		x[i] = s / l[i*d+i]
	}
	for i := d - 1; i >= 0; i-- {
		s := x[i]
		for k := i + 1; k < d; k++ {
			s -= l[k*d+i] * x[k]
		}
		x[i] = s / l[i*d+i]
	}
	return x, nil
}

// Platt maps a model's logit s to a calibrated probability
// sigmoid(A·s + B).
type Platt struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// fitPlatt fits Platt scaling on held-out logits with Platt's smoothed
// targets, which keep the fit finite when a fold separates perfectly.
func fitPlatt(s, y []float64) Platt {
	var pos, neg float64
	for _, v := range y {
		if v > 0.5 {
			pos++
		} else {
			neg++
		}
	}
	hi, lo := (pos+1)/(pos+2), 1/(neg+2)
	t := make([]float64, len(y))
	for i, v := range y {
		if v > 0.5 {
			t[i] = hi
		} else {
			t[i] = lo
		}
	}
	a, b := 1.0, 0.0
	obj := func(a, b float64) float64 {
		f := 0.0
		for i := range s {
			z := a*s[i] + b
			f += log1pexp(z) - t[i]*z
		}
		return f
	}
	cur := obj(a, b)
	for range 100 {
		var ga, gb, haa, hab, hbb float64
		for i := range s {
			p := sigmoid(a*s[i] + b)
			r := p - t[i]
			w := p * (1 - p)
			ga += r * s[i]
			gb += r
			haa += w * s[i] * s[i]
			hab += w * s[i]
			hbb += w
		}
		haa += 1e-9
		hbb += 1e-9
		det := haa*hbb - hab*hab
		if det <= 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		step := 1.0
		var na, nb, nobj float64
		for range 30 {
			na, nb = a-step*da, b-step*db
			nobj = obj(na, nb)
			if nobj <= cur+1e-12 {
				break
			}
			step /= 2
		}
		a, b = na, nb
		if cur-nobj < 1e-12 {
			break
		}
		cur = nobj
	}
	return Platt{A: a, B: b}
}
