package assistant

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dealdesk/dealdesk/prompts"
)

// FieldError is an invalid input field; it wraps ErrInvalidInput.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func (e *FieldError) Unwrap() error { return ErrInvalidInput }

// Purposes are the email purposes the email_draft task knows.
var Purposes = []string{"first_contact", "follow_up", "proposal", "objection_reply", "win_back"}

// Lengths are the email lengths.
var Lengths = []string{"short", "medium", "long"}

// Field limits, in characters.
const (
	maxShortField = 200
	maxTextField  = 4000
	maxDocument   = 200_000
)

// validateInput checks what a task cannot do without, and bounds every
// field. Documents longer than the token budget are cut later, with a
// warning; beyond maxDocument characters they are refused.
func validateInput(in any) error {
	c := commonOf(in)
	if !slices.Contains([]string{"", "zh", "en"}, c.Language) {
		return &FieldError{"language", "must be zh, en or empty"}
	}
	if len(c.Sources) > 0 {
		return &FieldError{"sources", "are retrieved by the service, not given"}
	}
	checks := []fieldCheck{{"seller", c.Seller, false, maxShortField}}
	switch t := in.(type) {
	case prompts.EmailDraftInput:
		if !slices.Contains(Purposes, t.Purpose) {
			return &FieldError{"purpose", "must be one of " + strings.Join(Purposes, ", ")}
		}
		if t.Length != "" && !slices.Contains(Lengths, t.Length) {
			return &FieldError{"length", "must be short, medium or long"}
		}
		checks = append(checks, []fieldCheck{
			{"customer", t.Customer, true, maxShortField}, {"recipient_name", t.RecipientName, false, maxShortField},
			{"recipient_role", t.RecipientRole, false, maxShortField}, {"sender", t.Sender, false, maxShortField},
			{"tone", t.Tone, false, maxShortField}, {"deal_context", t.DealContext, false, maxTextField},
			{"instructions", t.Instructions, false, maxTextField},
		}...)
	case prompts.MeetingNotesInput:
		if t.Date != "" && !isDate(t.Date) {
			return &FieldError{"date", "must be YYYY-MM-DD"}
		}
		checks = append(checks, []fieldCheck{{"transcript", t.Transcript, true, maxDocument}, {"customer", t.Customer, false, maxShortField}}...)
	case prompts.TalkTrackInput:
		checks = append(checks, []fieldCheck{
			{"customer", t.Customer, true, maxShortField}, {"region", t.Region, false, maxShortField},
			{"industry", t.Industry, false, maxShortField}, {"stage", t.Stage, false, maxShortField},
			{"notes", t.Notes, false, maxTextField},
		}...)
	case prompts.ObjectionInput:
		checks = append(checks, []fieldCheck{
			{"objection", t.Objection, true, maxTextField}, {"customer", t.Customer, false, maxShortField},
			{"stage", t.Stage, false, maxShortField}, {"competitor", t.Competitor, false, maxShortField},
			{"context", t.Context, false, maxTextField},
		}...)
	case prompts.TenderAnalysisInput:
		checks = append(checks, []fieldCheck{{"title", t.Title, true, maxShortField}, {"tender", t.Tender, true, maxDocument}, {"customer", t.Customer, false, maxShortField}}...)
	case prompts.CompetitiveIntelInput:
		checks = append(checks, []fieldCheck{{"text", t.Text, true, maxDocument}, {"title", t.Title, false, maxShortField}}...)
	}
	for _, ch := range checks {
		if !utf8.ValidString(ch.value) {
			return &FieldError{ch.field, "is not valid UTF-8"}
		}
		if ch.required && strings.TrimSpace(ch.value) == "" {
			return &FieldError{ch.field, "is required"}
		}
		if n := utf8.RuneCountInString(ch.value); n > ch.max {
			return &FieldError{ch.field, fmt.Sprintf("has %d characters; at most %d", n, ch.max)}
		}
	}
	return nil
}

// fieldCheck bounds one text field.
type fieldCheck struct {
	field, value string
	required     bool
	max          int
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}
