package scoring

import (
	"math"
	"sort"
)

// Metrics are a model's held-out quality.
type Metrics struct {
	N        int     `json:"n"`
	Positive int     `json:"positive"`
	AUC      float64 `json:"auc"`
	Brier    float64 `json:"brier"`
	LogLoss  float64 `json:"log_loss"`
	// ECE is the expected calibration error: the count-weighted mean gap
	// between predicted and observed rates over the calibration bins.
	ECE         float64  `json:"ece"`
	Calibration []CalBin `json:"calibration"`
}

// CalBin is one row of a calibration table: the predictions in [Lo, Hi),
// how many, their mean, and the observed win rate.
type CalBin struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Count     int     `json:"count"`
	Predicted float64 `json:"predicted"`
	Observed  float64 `json:"observed"`
}

// evaluate computes metrics of probabilities p against outcomes y (1 won).
func evaluate(p, y []float64) Metrics {
	m := Metrics{N: len(p)}
	if len(p) == 0 {
		return m
	}
	bins := make([]CalBin, 10)
	for i := range bins {
		bins[i].Lo, bins[i].Hi = float64(i)/10, float64(i+1)/10
	}
	for i := range p {
		if y[i] > 0.5 {
			m.Positive++
		}
		d := p[i] - y[i]
		m.Brier += d * d
		q := math.Min(math.Max(p[i], 1e-15), 1-1e-15)
		m.LogLoss -= y[i]*math.Log(q) + (1-y[i])*math.Log(1-q)
		b := min(int(p[i]*10), 9)
		bins[b].Count++
		bins[b].Predicted += p[i]
		bins[b].Observed += y[i]
	}
	n := float64(len(p))
	m.Brier /= n
	m.LogLoss /= n
	for i := range bins {
		if c := float64(bins[i].Count); c > 0 {
			m.ECE += math.Abs(bins[i].Predicted-bins[i].Observed) / n
			bins[i].Predicted /= c
			bins[i].Observed /= c
		}
	}
	m.Calibration = bins
	m.AUC = auc(p, y)
	return m
}

// auc is the area under the ROC curve (the Mann-Whitney statistic, ties
// counted half).
func auc(p, y []float64) float64 {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] > 0.5 {
				rankSum += avg
			}
		}
		i = j
	}
	for _, v := range y {
		if v > 0.5 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return 0.5 // undefined with one class; JSON has no NaN
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
