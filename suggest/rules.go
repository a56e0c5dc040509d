package suggest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/scoring"
)

// staleAfter is how long without any activity makes an open record look
// neglected.
const staleAfter = 21 * 24 * time.Hour

// lastActivity is the newest dated activity, zero when none is dated.
func lastActivity(r Record) (Activity, time.Time) {
	var last Activity
	var at time.Time
	for _, a := range r.Activity {
		t, err := time.Parse(time.DateOnly, a.Date)
		if err == nil && t.After(at) {
			last, at = a, t
		}
	}
	return last, at
}

// emailPurpose picks the email a rep should send next, and why.
func emailPurpose(r Record) (purpose, why string) {
	last, at := lastActivity(r)
	switch {
	case r.Stage == "lost":
		return "win_back", "the deal was lost: keep the door open"
	case r.Stage == "won":
		return "follow_up", "the deal was won: follow up on delivery and the next opportunity"
	case len(r.Activity) == 0 && (r.Stage == "" || r.Stage == "lead" || r.Stage == "prospecting"):
		return "first_contact", "no contact with the customer is recorded yet"
	case last.Type == "meeting":
		return "follow_up", fmt.Sprintf("a meeting took place on %s: send the follow-up", at.Format(time.DateOnly))
	case strings.Contains(strings.ToLower(last.Summary), "objection") || strings.Contains(last.Summary, "异议") ||
		strings.Contains(last.Summary, "顾虑") || strings.Contains(last.Summary, "担心"):
		return "objection_reply", "the last contact raised a concern: answer it in writing"
	case r.Stage == "proposal" || r.Stage == "negotiation":
		return "proposal", "the deal is at stage " + r.Stage + ": restate the proposal against the requirements"
	case !at.IsZero() && time.Since(at) > staleAfter:
		return "follow_up", fmt.Sprintf("no activity since %s", at.Format(time.DateOnly))
	}
	return "follow_up", "keep the deal moving"
}

func emailTitle(purpose, customer string) string {
	labels := map[string]string{"first_contact": "First-contact email", "follow_up": "Follow-up email",
		"proposal": "Proposal email", "objection_reply": "Reply to the customer's concern", "win_back": "Win-back email"}
	return labels[purpose] + " to " + customer
}

// dealContext tells the tasks what the record says.
func dealContext(r Record) string {
	var b strings.Builder
	if r.Stage != "" {
		fmt.Fprintf(&b, "Stage: %s. ", r.Stage)
	}
	if len(r.Competitors) > 0 {
		fmt.Fprintf(&b, "Competitors: %s. ", strings.Join(r.Competitors, ", "))
	}
	acts := slices.Clone(r.Activity)
	slices.SortStableFunc(acts, func(a, b Activity) int { return strings.Compare(b.Date, a.Date) })
	for i, a := range acts {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, "%s %s: %s\n", a.Date, a.Type, a.Summary)
	}
	return strings.TrimSpace(b.String())
}

// likelyObjection is the objection to prepare for, and why.
func likelyObjection(r Record) (objection, why string) {
	zh := isChinese(r.Customer)
	if len(r.Competitors) > 0 {
		c := r.Competitors[0]
		if zh {
			return fmt.Sprintf("%s的同类案例更多，报价也更低，为什么选你们？", c), c + " is competing for this deal"
		}
		return fmt.Sprintf("%s has more references and a lower price. Why should we choose you?", c), c + " is competing for this deal"
	}
	switch r.Stage {
	case "proposal", "negotiation":
		if zh {
			return "价格太贵了，超出预算。", "price comes up at stage " + r.Stage
		}
		return "Your price is above our budget.", "price comes up at stage " + r.Stage
	}
	if zh {
		return "你们在我们这个行业的案例太少了。", "references are the usual concern before a shortlist"
	}
	return "You have few references in our industry.", "references are the usual concern before a shortlist"
}

// riskSuggestion is the risk to address, from the score's risk flag or,
// without a score, from the record's own activity.
func riskSuggestion(r Record, score *scoring.Score) *Suggestion {
	if r.Stage == "won" || r.Stage == "lost" {
		return nil
	}
	var reasons, actions []string
	if score != nil {
		if score.Risk.Flag {
			reasons = append(reasons, score.Risk.Reasons...)
		}
		actions = append(actions, score.NextActions...)
	} else if _, at := lastActivity(r); !at.IsZero() && time.Since(at) > staleAfter {
		reasons = append(reasons, fmt.Sprintf("no activity for %d days", int(time.Since(at).Hours()/24)))
		actions = append(actions, "book a meeting with the decision maker")
	}
	if len(reasons) == 0 {
		return nil
	}
	title := "The deal may be slipping"
	why := strings.Join(reasons, "; ")
	if score != nil {
		why = fmt.Sprintf("%s (win probability %.0f%%, model v%d %s)", why, 100*score.Probability, score.Model.Version, score.Model.Method)
	}
	return &Suggestion{Type: TypeRisk, Title: title, Why: why, Reasons: reasons, Actions: actions}
}

func isChinese(s string) bool { return strings.ContainsFunc(s, lang.IsCJK) }
