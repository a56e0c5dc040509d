package analyze

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dateLayout is the schema's "format: date".
const dateLayout = "2006-01-02"

// dateMatch is a calendar date written in text. Year is 0 when the text
// gave none.
type dateMatch struct {
	Start, End       int
	Year, Month, Day int
	Hour, Minute     int
	HasTime          bool
	MonthEnd         bool // "2 月底", "end of March": the last day of Month
}

var monthNames = map[string]int{
	"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
	"may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
	"september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}

const monthAlt = `(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`

var (
	isoDate  = regexp.MustCompile(`([0-9]{4})\s*[-/.]\s*([0-9]{1,2})\s*[-/.]\s*([0-9]{1,2})`)
	zhDate   = regexp.MustCompile(`(?:([0-9]{4})\s*年\s*)?([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*[日号]`)
	zhMonEnd = regexp.MustCompile(`(?:([0-9]{4})\s*年\s*)?([0-9]{1,2})\s*月\s*(?:底|末)`)
	enDMY    = regexp.MustCompile(`(?i)\b([0-9]{1,2})(?:st|nd|rd|th)?\s+` + monthAlt + `\b\.?,?(?:\s+([0-9]{4})\b)?`)
	enMDY    = regexp.MustCompile(`(?i)\b` + monthAlt + `\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?\b(?:,?\s+([0-9]{4})\b)?`)
	enMonEnd = regexp.MustCompile(`(?i)\bend of ` + monthAlt + `\b(?:\s+([0-9]{4})\b)?`)
	clockAt  = regexp.MustCompile(`(?i)^[\s,，]*(?:at\s*)?(上午|下午|晚上|早上|中午)?\s*([0-9]{1,2})\s*(?:[:：]\s*([0-9]{2})|时|点)(?:\s*([0-9]{2})\s*分|半)?\s*(am|pm)?`)
)

// findDates returns the dates written in text, in order, without overlaps.
func findDates(text string) []dateMatch {
	var out []dateMatch
	add := func(d dateMatch) {
		for _, o := range out {
			if d.Start < o.End && o.Start < d.End {
				return
			}
		}
		if d.Month < 1 || d.Month > 12 || d.Day < 0 || d.Day > 31 {
			return
		}
		if !d.MonthEnd {
			if c := clockAt.FindStringSubmatch(text[d.End:]); c != nil {
				h, _ := strconv.Atoi(c[2])
				mi, _ := strconv.Atoi(c[3])
				if c[4] != "" {
					mi, _ = strconv.Atoi(c[4])
				} else if strings.HasSuffix(c[0], "半") {
					mi = 30
				}
				if (c[1] == "下午" || c[1] == "晚上" || strings.EqualFold(c[5], "pm")) && h < 12 {
					h += 12
				}
				if h < 24 && mi < 60 {
					d.Hour, d.Minute, d.HasTime = h, mi, true
					d.End += len(c[0])
				}
			}
		}
		out = append(out, d)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for _, m := range isoDate.FindAllStringSubmatchIndex(text, -1) {
		add(dateMatch{Start: m[0], End: m[1], Year: atoi(text[m[2]:m[3]]), Month: atoi(text[m[4]:m[5]]), Day: atoi(text[m[6]:m[7]])})
	}
	for _, m := range zhDate.FindAllStringSubmatchIndex(text, -1) {
		d := dateMatch{Start: m[0], End: m[1], Month: atoi(text[m[4]:m[5]]), Day: atoi(text[m[6]:m[7]])}
		if m[2] >= 0 {
			d.Year = atoi(text[m[2]:m[3]])
		}
		add(d)
	}
	for _, m := range zhMonEnd.FindAllStringSubmatchIndex(text, -1) {
		d := dateMatch{Start: m[0], End: m[1], Month: atoi(text[m[4]:m[5]]), MonthEnd: true}
		if m[2] >= 0 {
			d.Year = atoi(text[m[2]:m[3]])
		}
		add(d)
	}
	for _, m := range enMonEnd.FindAllStringSubmatchIndex(text, -1) {
		d := dateMatch{Start: m[0], End: m[1], Month: monthNames[strings.ToLower(text[m[2]:m[3]])], MonthEnd: true}
		if m[4] >= 0 {
			d.Year = atoi(text[m[4]:m[5]])
		}
		add(d)
	}
	for _, m := range enDMY.FindAllStringSubmatchIndex(text, -1) {
		d := dateMatch{Start: m[0], End: m[1], Day: atoi(text[m[2]:m[3]]), Month: monthNames[strings.ToLower(text[m[4]:m[5]])]}
		if m[6] >= 0 {
			d.Year = atoi(text[m[6]:m[7]])
		}
		add(d)
	}
	for _, m := range enMDY.FindAllStringSubmatchIndex(text, -1) {
		d := dateMatch{Start: m[0], End: m[1], Month: monthNames[strings.ToLower(text[m[2]:m[3]])], Day: atoi(text[m[4]:m[5]])}
		if m[6] >= 0 {
			d.Year = atoi(text[m[6]:m[7]])
		}
		add(d)
	}
	// Matches come per pattern; put them back in text order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Start < out[j-1].Start; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// date returns the calendar day d names in year y, if it exists.
func (d dateMatch) date(y int) (time.Time, bool) {
	if y < 1900 || y > 2200 {
		return time.Time{}, false
	}
	if d.MonthEnd {
		return time.Date(y, time.Month(d.Month)+1, 0, 0, 0, 0, 0, time.UTC), true
	}
	t := time.Date(y, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
	if t.Day() != d.Day || int(t.Month()) != d.Month {
		return time.Time{}, false // 2 月 30 日
	}
	return t, true
}

// resolveDue finds the due date a sentence sets, resolved against the
// meeting day base (zero when the meeting date is unknown): written
// dates, with the year taken from base when missing (and the next year
// when the day would be more than a month before the meeting), and
// relative ones (明天, 下周五, 月底, next Friday, in 3 days). Vague
// expressions (2 月上旬, next week, soon) resolve to nothing.
func resolveDue(text string, base time.Time) (time.Time, bool) {
	for _, d := range findDates(text) {
		y := d.Year
		if y == 0 {
			if base.IsZero() {
				continue
			}
			y = base.Year()
		}
		t, ok := d.date(y)
		if !ok {
			continue
		}
		if d.Year == 0 && t.Before(base.AddDate(0, -1, 0)) {
			if t, ok = d.date(y + 1); !ok {
				continue
			}
		}
		return t, true
	}
	if base.IsZero() {
		return time.Time{}, false
	}
	return resolveRelative(text, base)
}

var (
	zhWeekday   = regexp.MustCompile(`(下下|下个?|本|这个?|这)?\s*(?:周|星期|礼拜)([一二三四五六日天])`)
	enWeekday   = regexp.MustCompile(`(?i)\b(next|this|by|on|before|until|coming)?\s*(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b`)
	zhInDays    = regexp.MustCompile(`([0-9]{1,3}|[一二两三四五六七八九十]{1,2})\s*(?:个)?(?:工作日|天)\s*(?:内|之内|后|以内)`)
	enInDays    = regexp.MustCompile(`(?i)\b(?:in|within)\s+([0-9]{1,3}|one|two|three|four|five|six|seven|ten|fourteen)\s+days?\b`)
	zhWeekdayNo = map[string]int{"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}
	enNumbers   = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10, "fourteen": 14}
)

// resolveRelative resolves the first relative date in text against base.
// The week runs Monday to Sunday: 下周五 and "next Friday" are the Friday
// of the following week; 周五, "by Friday" the coming Friday.
func resolveRelative(text string, base time.Time) (time.Time, bool) {
	type hit struct {
		at int
		t  time.Time
	}
	var hits []hit
	add := func(at int, t time.Time) { hits = append(hits, hit{at, t}) }
	low := strings.ToLower(text)
	monday := base.AddDate(0, 0, -((int(base.Weekday()) + 6) % 7))
	for _, w := range []struct {
		word string
		days int
	}{{"大后天", 3}, {"后天", 2}, {"明天", 1}, {"明日", 1}, {"今天", 0}, {"今日", 0}, {"tomorrow", 1}, {"today", 0}} {
		if i := strings.Index(low, w.word); i >= 0 && !(w.word == "后天" && i >= len("大") && low[i-len("大"):i] == "大") {
			add(i, base.AddDate(0, 0, w.days))
		}
	}
	for _, m := range zhWeekday.FindAllStringSubmatchIndex(text, -1) {
		wd := zhWeekdayNo[text[m[4]:m[5]]]
		week := 0
		if m[2] >= 0 {
			week = strings.Count(text[m[2]:m[3]], "下")
		}
		t := monday.AddDate(0, 0, 7*week+wd-1)
		if week == 0 && t.Before(base) {
			t = t.AddDate(0, 0, 7)
		}
		add(m[0], t)
	}
	for _, m := range enWeekday.FindAllStringSubmatchIndex(low, -1) {
		wd := map[string]int{"monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6, "sunday": 7}[low[m[4]:m[5]]]
		t := monday.AddDate(0, 0, wd-1)
		if m[2] >= 0 && low[m[2]:m[3]] == "next" {
			t = t.AddDate(0, 0, 7)
		} else if !t.After(base) {
			t = t.AddDate(0, 0, 7)
		}
		add(m[0], t)
	}
	monthEnd := func(months int) time.Time {
		return time.Date(base.Year(), base.Month()+time.Month(months)+1, 0, 0, 0, 0, 0, time.UTC)
	}
	for _, w := range []struct {
		word   string
		months int
	}{{"下个月底", 1}, {"下月底", 1}, {"end of next month", 1}, {"月底", 0}, {"月末", 0}, {"end of the month", 0}, {"end of this month", 0}, {"end of month", 0}} {
		if i := strings.Index(low, w.word); i >= 0 {
			if w.months == 0 && (strings.HasSuffix(low[:i], "下个") || strings.HasSuffix(low[:i], "下")) {
				continue
			}
			if w.months == 0 && i > 0 && strings.ContainsAny(low[i-1:i], "0123456789") {
				continue // "2月底" is a written date
			}
			add(i, monthEnd(w.months))
		}
	}
	for _, w := range []string{"年底", "年末", "end of the year", "end of this year", "year end", "year-end"} {
		if i := strings.Index(low, w); i >= 0 && !strings.HasSuffix(low[:i], "明") {
			add(i, time.Date(base.Year(), 12, 31, 0, 0, 0, 0, time.UTC))
		}
	}
	if m := zhInDays.FindStringSubmatchIndex(text); m != nil {
		if n := smallNumber(text[m[2]:m[3]]); n > 0 && !strings.Contains(text[m[0]:m[1]], "工作日") {
			add(m[0], base.AddDate(0, 0, n))
		}
	}
	if m := enInDays.FindStringSubmatchIndex(low); m != nil {
		n, err := strconv.Atoi(low[m[2]:m[3]])
		if err != nil {
			n = enNumbers[low[m[2]:m[3]]]
		}
		if n > 0 {
			add(m[0], base.AddDate(0, 0, n))
		}
	}
	if len(hits) == 0 {
		return time.Time{}, false
	}
	best := hits[0]
	for _, h := range hits[1:] {
		if h.at < best.at {
			best = h
		}
	}
	return best.t, true
}

// smallNumber reads 1-99 written in digits or Chinese numerals.
func smallNumber(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	digits := map[rune]int{'一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}
	n, tens := 0, false
	for _, r := range s {
		switch {
		case r == '十':
			if n == 0 {
				n = 1
			}
			n *= 10
			tens = true
		case r == '百':
			if n == 0 {
				n = 1
			}
			n *= 100
		default:
			d, ok := digits[r]
			if !ok {
				return 0
			}
			if tens {
				n += d
			} else {
				n = n*10 + d
			}
		}
	}
	return n
}
