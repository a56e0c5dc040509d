// Package scoring estimates how likely an opportunity is to be won, and
// says why.
//
// Each tenant gets its own model, trained on its own closed opportunities:
// an L2-regularised logistic regression over encoded CRM fields (numbers
// standardised after a log or clip transform with quantile-bin indicators,
// categories one-hot with rare levels pooled, missing-value indicators),
// its penalty chosen by cross-validation on the training part only, and
// Platt-calibrated on a held-out calibration fold. The model is additive, so
// a score's factors are exact: each field's contribution is its weights
// times its columns' distance from the training mean, and the contributions
// plus the base logit give the score's logit. Metrics (AUC, Brier score, log
// loss, a calibration table) come from a held-out test split, time-ordered
// when the opportunities are dated, next to a plain logistic regression on
// the raw fields measured on the same split. Every model is a numbered
// version; every score records the version that computed it. Tenants with
// too little history get transparent rules instead, labelled as such.
package scoring
