package assistant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/prompts"
)

// The request types are the JSON bodies of the task endpoints, and the
// inputs of eval suite cases: one shape wherever a task is asked for.

// TaskCommon are the fields every task request may carry.
type TaskCommon struct {
	Language string `json:"language,omitempty" doc:"zh or en; empty: the language of the request"`
	Seller   string `json:"seller,omitempty" doc:"our company, the 'we' of the answer"`
	// PromptVersion pins a template version for this call (ops and admin
	// keys: eval runs compare versions this way).
	PromptVersion int `json:"prompt_version,omitempty" doc:"pin a prompt template version (admin and ops keys only)"`
}

// Common is the prompts.Common a request sets.
func (t TaskCommon) Common() prompts.Common {
	return prompts.Common{Language: t.Language, Seller: t.Seller}
}

type EmailDraftRequest struct {
	TaskCommon
	Purpose       string `json:"purpose" doc:"first_contact, follow_up, proposal, objection_reply or win_back"`
	Customer      string `json:"customer"`
	RecipientName string `json:"recipient_name,omitempty"`
	RecipientRole string `json:"recipient_role,omitempty"`
	Sender        string `json:"sender,omitempty" doc:"signature: the rep's name and title"`
	DealContext   string `json:"deal_context,omitempty" doc:"stage, last contact, what was promised"`
	Tone          string `json:"tone,omitempty"`
	Length        string `json:"length,omitempty" doc:"short, medium (default) or long"`
	Instructions  string `json:"instructions,omitempty"`
}

type MeetingNotesRequest struct {
	TaskCommon
	Transcript   string           `json:"transcript" doc:"the transcript or raw notes"`
	Customer     string           `json:"customer,omitempty"`
	Date         string           `json:"date,omitempty" doc:"YYYY-MM-DD: relative dates in the transcript resolve against it"`
	Participants []prompts.Person `json:"participants,omitempty"`
}

type TalkTrackRequest struct {
	TaskCommon
	Customer    string           `json:"customer"`
	Region      string           `json:"region,omitempty"`
	Industry    string           `json:"industry,omitempty"`
	Stage       string           `json:"stage,omitempty" doc:"prospecting, qualification, solution, tender, negotiation"`
	Products    []string         `json:"products,omitempty"`
	Competitors []string         `json:"competitors,omitempty"`
	Contacts    []prompts.Person `json:"contacts,omitempty" doc:"decision makers: name, role, side"`
	Notes       string           `json:"notes,omitempty"`
}

type ObjectionRequest struct {
	TaskCommon
	Objection  string `json:"objection" doc:"what the customer said"`
	Customer   string `json:"customer,omitempty"`
	Stage      string `json:"stage,omitempty"`
	Competitor string `json:"competitor,omitempty"`
	Context    string `json:"context,omitempty"`
}

type TenderRequest struct {
	TaskCommon
	Title      string     `json:"title,omitempty" doc:"required with tender text; default: the document's title"`
	Tender     string     `json:"tender,omitempty" doc:"the tender text; or give document_id"`
	DocumentID *uuid.UUID `json:"document_id,omitempty" doc:"an ingested tender document to analyse"`
	Customer   string     `json:"customer,omitempty"`
	Products   []string   `json:"products,omitempty" doc:"our products to compare against"`
}

type IntelRequest struct {
	TaskCommon
	Text        string   `json:"text" doc:"field notes, a bid opening record, a brochure"`
	Title       string   `json:"title,omitempty"`
	Competitors []string `json:"competitors,omitempty" doc:"names already known, as hints"`
}

// Input builds the task input of a request.
func (r EmailDraftRequest) Input() (any, error) {
	return prompts.EmailDraftInput{Common: r.Common(), Purpose: r.Purpose, Customer: r.Customer,
		RecipientName: r.RecipientName, RecipientRole: r.RecipientRole, Sender: r.Sender,
		DealContext: r.DealContext, Tone: r.Tone, Length: r.Length, Instructions: r.Instructions}, nil
}

// Input builds the task input of a request.
func (r MeetingNotesRequest) Input() (any, error) {
	return prompts.MeetingNotesInput{Common: r.Common(), Transcript: r.Transcript, Customer: r.Customer,
		Date: r.Date, Participants: r.Participants}, nil
}

// Input builds the task input of a request.
func (r TalkTrackRequest) Input() (any, error) {
	return prompts.TalkTrackInput{Common: r.Common(), Customer: r.Customer, Region: r.Region,
		Industry: r.Industry, Stage: r.Stage, Products: r.Products, Competitors: r.Competitors,
		Contacts: r.Contacts, Notes: r.Notes}, nil
}

// Input builds the task input of a request.
func (r ObjectionRequest) Input() (any, error) {
	return prompts.ObjectionInput{Common: r.Common(), Objection: r.Objection, Customer: r.Customer,
		Stage: r.Stage, Competitor: r.Competitor, Context: r.Context}, nil
}

// Input builds the task input of a request. A request naming an ingested
// document (DocumentID) must have its text filled in by the caller first
// (the API reads it in the caller's scope); Input refuses both or neither.
func (r TenderRequest) Input() (any, error) {
	switch {
	case r.DocumentID != nil && r.Tender != "":
		return nil, &FieldError{"document_id", "give either tender text or document_id, not both"}
	case r.Tender == "":
		return nil, &FieldError{"tender", "give the tender text or the document_id of an ingested tender"}
	}
	return prompts.TenderAnalysisInput{Common: r.Common(), Title: r.Title, Tender: r.Tender,
		Customer: r.Customer, Products: r.Products}, nil
}

// Input builds the task input of a request.
func (r IntelRequest) Input() (any, error) {
	return prompts.CompetitiveIntelInput{Common: r.Common(), Text: r.Text, Title: r.Title,
		Competitors: r.Competitors}, nil
}

// Request is any task request.
type Request interface {
	Input() (any, error)
	Options() TaskCommon
}

// Options returns the fields every request carries.
func (t TaskCommon) Options() TaskCommon { return t }

// NewRequest returns an empty request of a task, to decode into.
func NewRequest(task string) (Request, error) {
	switch task {
	case TaskEmailDraft:
		return &EmailDraftRequest{}, nil
	case TaskMeetingNotes:
		return &MeetingNotesRequest{}, nil
	case TaskTalkTrack:
		return &TalkTrackRequest{}, nil
	case TaskObjection:
		return &ObjectionRequest{}, nil
	case TaskTenderAnalysis:
		return &TenderRequest{}, nil
	case TaskCompetitiveIntel:
		return &IntelRequest{}, nil
	}
	return nil, fmt.Errorf("%w: unknown task %q (known: %s)", ErrInvalidInput, task, strings.Join(Tasks, ", "))
}

// DecodeRequest decodes a task request from JSON strictly: unknown fields
// and trailing data are errors.
func DecodeRequest(task string, raw []byte) (Request, error) {
	req, err := NewRequest(task)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return nil, fmt.Errorf("%w: %s request: %v", ErrInvalidInput, task, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s request: trailing data after the JSON object", ErrInvalidInput, task)
	}
	return req, nil
}
