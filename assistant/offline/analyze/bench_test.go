package analyze

import (
	"testing"

	"github.com/dealdesk/dealdesk/lang"
)

func BenchmarkMeetingNotes(b *testing.B) {
	tm := template(b, "meeting_notes")
	lang.Warm() // the dictionary loads once per process, not per answer
	for b.Loop() {
		composeMeeting(tm, zhMeeting)
	}
}

func BenchmarkTenderAnalysis(b *testing.B) {
	tm := template(b, "tender_analysis")
	lang.Warm() // the dictionary loads once per process, not per answer
	for b.Loop() {
		composeTender(tm, zhTender)
	}
}

func BenchmarkCompetitiveIntel(b *testing.B) {
	tm := template(b, "competitive_intel")
	lang.Warm() // the dictionary loads once per process, not per answer
	for b.Loop() {
		composeIntel(tm, zhIntel)
	}
}
