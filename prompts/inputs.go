package prompts

import (
	"reflect"

	"github.com/dealdesk/dealdesk/providers"
)

// The tasks a template can serve. A template's front matter names one of
// them; its body is written against that task's input type, and Load
// renders it with the task's sample inputs before accepting it.
const (
	TaskEmailDraft       = "email_draft"
	TaskMeetingNotes     = "meeting_notes"
	TaskTalkTrack        = "talk_track"
	TaskObjection        = "objection"
	TaskTenderAnalysis   = "tender_analysis"
	TaskCompetitiveIntel = "competitive_intel"
)

// Common is what every task's input carries. Templates see its fields as
// if they were the task input's own (.Language, .Seller, .Sources).
type Common struct {
	// Language is the language the answer is written in: "zh", "en", or
	// "" to follow the request (the template then tells the model to
	// answer in the language the rep used, Chinese by default). A
	// template whose front matter fixes a language ignores it.
	Language string `json:"language,omitempty"`
	// Seller is the rep's own company, the "we" of the prompt.
	Seller string `json:"seller,omitempty"`
	// Sources are the retrieved passages the answer must stand on,
	// labelled S1, S2, ... They are fenced as <source> data blocks
	// (providers.FormatSources) and may be cited only by these labels.
	Sources []providers.Source `json:"sources,omitempty"`
}

func (c Common) common() Common { return c }

// Person is someone taking part in a meeting or a deal.
type Person struct {
	Name string `json:"name"`
	// Role is the job title or function (信息中心主任, CFO, 售前架构师).
	Role string `json:"role,omitempty"`
	// Side is "customer", "ours", "partner" or "other".
	Side string `json:"side,omitempty"`
}

// EmailDraftInput is the input of the email_draft task.
type EmailDraftInput struct {
	Common
	// Purpose is first_contact, follow_up, proposal, objection_reply or
	// win_back.
	Purpose       string `json:"purpose"`
	Customer      string `json:"customer"`
	RecipientName string `json:"recipient_name,omitempty"`
	RecipientRole string `json:"recipient_role,omitempty"`
	// Sender signs the email: the rep's name and title.
	Sender string `json:"sender,omitempty"`
	// DealContext is what the rep says about the deal: stage, last
	// contact, what was promised. It may quote the customer.
	DealContext string `json:"deal_context,omitempty"`
	// Tone is free text ("正式", "warm and brief"); empty means the
	// template's default.
	Tone string `json:"tone,omitempty"`
	// Length is short, medium or long; empty means medium.
	Length string `json:"length,omitempty"`
	// Instructions are the rep's extra wishes for this draft.
	Instructions string `json:"instructions,omitempty"`
}

// MeetingNotesInput is the input of the meeting_notes task.
type MeetingNotesInput struct {
	Common
	Customer string `json:"customer,omitempty"`
	// Date is the meeting day, YYYY-MM-DD; relative dates in the
	// transcript ("next Friday") are resolved against it.
	Date         string   `json:"date,omitempty"`
	Participants []Person `json:"participants,omitempty"`
	// Transcript is fenced as source T1; spans in the answer quote it.
	Transcript string `json:"transcript"`
}

// TalkTrackInput is the input of the talk_track task.
type TalkTrackInput struct {
	Common
	Customer string `json:"customer"`
	Region   string `json:"region,omitempty"`
	Industry string `json:"industry,omitempty"`
	// Stage is the deal stage: prospecting, qualification, solution,
	// tender, negotiation (free text is accepted).
	Stage       string   `json:"stage,omitempty"`
	Products    []string `json:"products,omitempty"`
	Competitors []string `json:"competitors,omitempty"`
	Contacts    []Person `json:"contacts,omitempty"`
	Notes       string   `json:"notes,omitempty"`
}

// ObjectionInput is the input of the objection task.
type ObjectionInput struct {
	Common
	// Objection is what the customer said, in their words if possible.
	Objection  string `json:"objection"`
	Customer   string `json:"customer,omitempty"`
	Stage      string `json:"stage,omitempty"`
	Competitor string `json:"competitor,omitempty"`
	Context    string `json:"context,omitempty"`
}

// TenderAnalysisInput is the input of the tender_analysis task.
type TenderAnalysisInput struct {
	Common
	// Title names the tender document; Tender is its text (or the parts
	// that matter), fenced as source T1. Our product sheets come as
	// Sources.
	Title    string   `json:"title"`
	Tender   string   `json:"tender"`
	Customer string   `json:"customer,omitempty"`
	Products []string `json:"products,omitempty"`
}

// CompetitiveIntelInput is the input of the competitive_intel task.
type CompetitiveIntelInput struct {
	Common
	// Title says where Text came from (field notes, a bid opening
	// record, a competitor brochure); Text is fenced as source T1.
	Title string `json:"title,omitempty"`
	Text  string `json:"text"`
	// Competitors are names the rep already knows, as hints.
	Competitors []string `json:"competitors,omitempty"`
}

// task is what the package knows about a task: the input type its
// templates render and realistic inputs to try them with at load time.
type task struct {
	input   reflect.Type
	samples func() []any
}

var tasks = map[string]task{
	TaskEmailDraft:       {reflect.TypeFor[EmailDraftInput](), emailDraftSamples},
	TaskMeetingNotes:     {reflect.TypeFor[MeetingNotesInput](), meetingNotesSamples},
	TaskTalkTrack:        {reflect.TypeFor[TalkTrackInput](), talkTrackSamples},
	TaskObjection:        {reflect.TypeFor[ObjectionInput](), objectionSamples},
	TaskTenderAnalysis:   {reflect.TypeFor[TenderAnalysisInput](), tenderAnalysisSamples},
	TaskCompetitiveIntel: {reflect.TypeFor[CompetitiveIntelInput](), competitiveIntelSamples},
}
