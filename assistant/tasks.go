package assistant

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/dealdesk/dealdesk/lang"
	"github.com/dealdesk/dealdesk/prompts"
	"github.com/dealdesk/dealdesk/retrieval"
)

// Tasks, by the names their templates, features and generation records
// use.
const (
	TaskEmailDraft       = prompts.TaskEmailDraft
	TaskMeetingNotes     = prompts.TaskMeetingNotes
	TaskTalkTrack        = prompts.TaskTalkTrack
	TaskObjection        = prompts.TaskObjection
	TaskTenderAnalysis   = prompts.TaskTenderAnalysis
	TaskCompetitiveIntel = prompts.TaskCompetitiveIntel
)

// Tasks lists every task, in the order the API documents them.
var Tasks = []string{TaskEmailDraft, TaskMeetingNotes, TaskTalkTrack, TaskObjection, TaskTenderAnalysis, TaskCompetitiveIntel}

// search is one retrieval a task runs before prompting.
type search struct {
	text    string
	filters retrieval.Filters
	k       int
}

// spec is what the pipeline needs to know about a task.
type spec struct {
	name string
	// searches builds the retrievals for an input (already masked).
	searches func(in any) []search
	// document is the task's own document, cited as T1 ("" when none).
	document func(in any) string
	// budget is the token budget of the retrieved sources.
	budget int
}

// maxQueryRunes bounds the text of one search built from a long input.
const maxQueryRunes = 600

var specs = map[string]spec{
	TaskEmailDraft: {
		name: TaskEmailDraft,
		searches: func(in any) []search {
			e := in.(prompts.EmailDraftInput)
			context := joinQuery(e.Customer, e.RecipientRole, e.DealContext, e.Instructions)
			// The deal's own history (meetings, emails), then the facts an
			// email can offer: product sheets, won deals, policies.
			return []search{
				{text: context, k: 4},
				{text: joinQuery(purposeWords[e.Purpose], e.DealContext, e.Instructions, e.RecipientRole), k: 5,
					filters: retrieval.Filters{Kinds: []string{"product", "won_deal", "policy"}}},
			}
		},
		budget: 3000,
	},
	TaskObjection: {
		name: TaskObjection,
		searches: func(in any) []search {
			o := in.(prompts.ObjectionInput)
			q := joinQuery(o.Objection, o.Competitor, o.Context)
			return []search{
				{text: q, k: 6, filters: retrieval.Filters{Kinds: []string{"won_deal", "playbook"}}},
				{text: q, k: 4, filters: retrieval.Filters{Kinds: []string{"product", "competitor", "lost_deal"}}},
			}
		},
		budget: 2000,
	},
	TaskTalkTrack: {
		name: TaskTalkTrack,
		searches: func(in any) []search {
			t := in.(prompts.TalkTrackInput)
			var regions []string
			if t.Region != "" {
				regions = []string{t.Region}
			}
			base := joinQuery(t.Customer, t.Industry, t.Region, t.Stage, strings.Join(t.Products, " "), t.Notes)
			roles := make([]string, 0, len(t.Contacts))
			for _, c := range t.Contacts {
				roles = append(roles, c.Role)
			}
			return []search{
				{text: joinQuery(t.Region, t.Industry, "政策 policy 资金 funding 规划", base), k: 4,
					filters: retrieval.Filters{Kinds: []string{"policy"}, Regions: regions}},
				{text: joinQuery(strings.Join(t.Competitors, " "), t.Industry, "弱点 weakness 丢单 lost"), k: 5,
					filters: retrieval.Filters{Kinds: []string{"competitor", "lost_deal"}}},
				{text: joinQuery(t.Industry, t.Region, strings.Join(t.Products, " "), strings.Join(roles, " ")), k: 4,
					filters: retrieval.Filters{Kinds: []string{"won_deal"}}},
				{text: joinQuery(strings.Join(roles, " "), t.Stage, "关注 concerns 异议 objection", base), k: 3,
					filters: retrieval.Filters{Kinds: []string{"playbook", "meeting", "product"}}},
			}
		},
		budget: 2600,
	},
	TaskMeetingNotes: {
		name: TaskMeetingNotes,
		searches: func(in any) []search {
			m := in.(prompts.MeetingNotesInput)
			return []search{{text: joinQuery(m.Customer, m.Transcript), k: 5,
				filters: retrieval.Filters{Kinds: []string{"competitor", "won_deal", "lost_deal", "product", "meeting"}}}}
		},
		document: func(in any) string { return in.(prompts.MeetingNotesInput).Transcript },
		budget:   1200,
	},
	TaskTenderAnalysis: {
		name: TaskTenderAnalysis,
		searches: func(in any) []search {
			t := in.(prompts.TenderAnalysisInput)
			products := retrieval.Filters{Kinds: []string{"product"}}
			out := []search{{text: joinQuery(t.Title, strings.Join(t.Products, " ")), k: 4, filters: products}}
			for _, line := range requirementLines(t.Tender, 6) {
				out = append(out, search{text: joinQuery(strings.Join(t.Products, " "), line), k: 2, filters: products})
			}
			return out
		},
		document: func(in any) string { return in.(prompts.TenderAnalysisInput).Tender },
		budget:   2600,
	},
	TaskCompetitiveIntel: {
		name: TaskCompetitiveIntel,
		searches: func(in any) []search {
			c := in.(prompts.CompetitiveIntelInput)
			return []search{{text: joinQuery(strings.Join(c.Competitors, " "), c.Text), k: 5,
				filters: retrieval.Filters{Kinds: []string{"competitor", "lost_deal", "won_deal"}}}}
		},
		document: func(in any) string { return in.(prompts.CompetitiveIntelInput).Text },
		budget:   1200,
	},
}

// purposeWords make an email's purpose searchable.
var purposeWords = map[string]string{
	"first_contact":   "案例 case study 价值 value",
	"follow_up":       "会议 meeting 跟进 follow-up",
	"proposal":        "方案 proposal 报价 参数",
	"objection_reply": "异议 objection 证据 evidence",
	"win_back":        "丢单 lost 变化 改进",
}

// taskOf names the task an input is for.
func taskOf(in any) (string, error) {
	switch in.(type) {
	case prompts.EmailDraftInput:
		return TaskEmailDraft, nil
	case prompts.MeetingNotesInput:
		return TaskMeetingNotes, nil
	case prompts.TalkTrackInput:
		return TaskTalkTrack, nil
	case prompts.ObjectionInput:
		return TaskObjection, nil
	case prompts.TenderAnalysisInput:
		return TaskTenderAnalysis, nil
	case prompts.CompetitiveIntelInput:
		return TaskCompetitiveIntel, nil
	}
	return "", fmt.Errorf("assistant: no task takes %T", in)
}

// joinQuery builds a search text from parts, bounded in length.
func joinQuery(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	q := strings.Join(kept, " ")
	if r := []rune(q); len(r) > maxQueryRunes {
		q = string(r[:maxQueryRunes])
	}
	return q
}

// requirementLines picks up to n lines of a tender that read as technical
// requirements: marked ★ or ▲, or stating a number, longest first among
// equals so that the searches carry the most words.
func requirementLines(text string, n int) []string {
	type cand struct {
		line  string
		score int
	}
	var cands []cand
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if len([]rune(line)) < 6 {
			continue
		}
		score := 0
		if strings.ContainsAny(line, "★▲") {
			score += 2
		}
		if strings.ContainsAny(line, "0123456789") && (strings.ContainsAny(line, "≥≤><") ||
			containsAny(line, "不低于", "不少于", "不超过", "至少", "at least", "no less", "minimum", "maximum", "support", "支持")) {
			score++
		}
		if score > 0 {
			cands = append(cands, cand{line, score*1000 + min(len([]rune(line)), 999)})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return b.score - a.score })
	var out []string
	for _, c := range cands {
		if len(out) == n {
			break
		}
		out = append(out, lang.TruncateTokens(c.line, 80))
	}
	return out
}

func containsAny(s string, subs ...string) bool {
	lower := strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(lower, sub) {
			return true
		}
	}
	return false
}

// common returns a pointer to the Common embedded in *in, an input held
// in a reflect.Value that can be set.
func common(v reflect.Value) *prompts.Common {
	return v.FieldByName("Common").Addr().Interface().(*prompts.Common)
}

// withCommon returns a copy of in with edit applied to its Common.
func withCommon(in any, edit func(*prompts.Common)) any {
	v := reflect.New(reflect.TypeOf(in)).Elem()
	v.Set(reflect.ValueOf(in))
	edit(common(v))
	return v.Interface()
}

// commonOf returns in's Common.
func commonOf(in any) prompts.Common {
	v := reflect.New(reflect.TypeOf(in)).Elem()
	v.Set(reflect.ValueOf(in))
	return *common(v)
}
