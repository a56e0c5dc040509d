package offline

import (
	"fmt"

	"github.com/dealdesk/dealdesk/assistant/offline/analyze"
	"github.com/dealdesk/dealdesk/prompts"
)

// Compose returns the offline answer to input, which must be the input
// type of t's task (prompts.EmailDraftInput for email_draft, ...). The
// answer is a JSON-ready value that validates against t.Schema.
func Compose(t *prompts.Template, input any) (any, error) {
	switch in := input.(type) {
	case prompts.EmailDraftInput:
		return EmailDraft(t, in), nil
	case prompts.ObjectionInput:
		return Objection(t, in), nil
	case prompts.TalkTrackInput:
		return TalkTrack(t, in), nil
	case prompts.MeetingNotesInput:
		return analyze.MeetingNotes(t, in), nil
	case prompts.TenderAnalysisInput:
		return analyze.TenderAnalysis(t, in), nil
	case prompts.CompetitiveIntelInput:
		return analyze.CompetitiveIntel(t, in), nil
	default:
		return nil, fmt.Errorf("offline: no composer for input type %T", input)
	}
}
