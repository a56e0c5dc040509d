package analyze

import "testing"

func BenchmarkMeetingNotes(b *testing.B) {
	tm := template(b, "meeting_notes")
	for b.Loop() {
		composeMeeting(tm, zhMeeting)
	}
}

func BenchmarkTenderAnalysis(b *testing.B) {
	tm := template(b, "tender_analysis")
	for b.Loop() {
		composeTender(tm, zhTender)
	}
}

func BenchmarkCompetitiveIntel(b *testing.B) {
	tm := template(b, "competitive_intel")
	for b.Loop() {
		composeIntel(tm, zhIntel)
	}
}
