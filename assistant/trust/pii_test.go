package trust

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// found is a finding without offsets, for compact tables.
type found struct {
	Kind Kind
	Text string
}

func kindsAndTexts(fs []Finding) []found {
	var out []found
	for _, f := range fs {
		out = append(out, found{f.Kind, f.Text})
	}
	return out
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []found
	}{
		// Mobile numbers.
		{"mobile next to Chinese", "王总手机13800138000联系", []found{{Phone, "13800138000"}}},
		{"mobile with spaces", "电话 138 0013 8000。", []found{{Phone, "138 0013 8000"}}},
		{"mobile with dashes", "call 138-0013-8000 today", []found{{Phone, "138-0013-8000"}}},
		{"mobile with +86", "+86 138 0013 8000", []found{{Phone, "+86 138 0013 8000"}}},
		{"mobile with +86 glued", "(+8613800138000)", []found{{Phone, "+8613800138000"}}},
		{"mobile with 0086", "0086-13800138000", []found{{Phone, "0086-13800138000"}}},
		{"mobile with 86-", "86-139-1234-5678", []found{{Phone, "86-139-1234-5678"}}},
		{"full-width mobile", "手机：１３８００１３８０００", []found{{Phone, "１３８００１３８０００"}}},
		{"mobile before a year", "13800138000 2025年再联系", []found{{Phone, "13800138000"}}},
		{"two mobiles in one run", "13800138000 13912345678", []found{{Phone, "13800138000"}, {Phone, "13912345678"}}},
		{"mobiles listed with a slash", "手机/微信：13800138000/13912345678", []found{{Phone, "13800138000"}, {Phone, "13912345678"}}},

		// Landlines.
		{"landline with dash", "座机010-62345678", []found{{Landline, "010-62345678"}}},
		{"landline in parentheses", "电话(0755) 8888 6666。", []found{{Landline, "(0755) 8888 6666"}}},
		{"landline in full-width parentheses", "（021）6234 5678", []found{{Landline, "（021）6234 5678"}}},
		{"landline with 转 extension", "0571-87654321 转 801，", []found{{Landline, "0571-87654321 转 801"}}},
		{"landline with dash extension", "010-62345678-8001", []found{{Landline, "010-62345678-8001"}}},
		{"landline with ext.", "Tel: 0755 88886666 ext. 12", []found{{Landline, "0755 88886666 ext. 12"}}},
		{"landline glued", "075588886666", []found{{Landline, "075588886666"}}},

		// Resident ID numbers.
		{"ID with X", "身份证号11010519491231002X。", []found{{IDCard, "11010519491231002X"}}},
		{"ID with lower-case x", "id 11010519491231002x", []found{{IDCard, "11010519491231002x"}}},
		{"ID with digit check", "身份证：440305198207151233", []found{{IDCard, "440305198207151233"}}},
		{"ID grouped 6-8-4", "110105 19491231 002X", []found{{IDCard, "110105 19491231 002X"}}},

		// E-mail.
		{"email next to Chinese", "邮箱wang.zong@sz-gov.cn。", []found{{Email, "wang.zong@sz-gov.cn"}}},
		{"email with plus and sub-domain", "<li_ming+bid@mail.example.com.cn>", []found{{Email, "li_ming+bid@mail.example.com.cn"}}},
		{"QQ email is one email, not a phone", "13800138000@qq.com", []found{{Email, "13800138000@qq.com"}}},
		{"email before a full stop", "write to a.b@example.org.", []found{{Email, "a.b@example.org"}}},

		// Bank cards and accounts.
		{"card in groups", "退款卡号 6222 0212 3456 7890 128", []found{{BankCard, "6222 0212 3456 7890 128"}}},
		{"card glued", "card 6222021234567890128 ok", []found{{BankCard, "6222021234567890128"}}},
		{"visa test card", "4111-1111-1111-1111", []found{{BankCard, "4111-1111-1111-1111"}}},
		{"labelled deposit account", "投标保证金账户：4000 0233 0920 0123 456", []found{{BankCard, "4000 0233 0920 0123 456"}}},
		{"account read out in a meeting", "账号是 6228 4800 1234 5678", []found{{BankCard, "6228 4800 1234 5678"}}},
		{"labelled account in English", "Account No.: 1234 5678 9012", []found{{BankCard, "1234 5678 9012"}}},
		{"labelled account that is a phone", "支付宝账号 13800138000", []found{{Phone, "13800138000"}}},

		// Things that are not personal data.
		{"amount with commas", "预算 4,860,000 元", nil},
		{"amount in 万元", "880 万元", nil},
		{"amount shaped like a phone", "合同总额 13800000000 元", nil},
		{"amount after ¥", "¥13800138000", nil},
		{"amount after RMB", "RMB 13800138000", nil},
		{"percentage", "增长 13800138000%", nil},
		{"ISO date", "2025-03-18", nil},
		{"compact date", "20250318", nil},
		{"slash date", "2025/03/18 14:00", nil},
		{"Chinese date", "2025年3月18日", nil},
		{"tender number", "招标编号 SZSJ-2025-GK-017", nil},
		{"tender number with long digits", "GXZC2025-G1-001234-CGZX", nil},
		{"phone-shaped code part", "ZB-13800138000", nil},
		{"phone-shaped code part before", "13800138000-A", nil},
		{"ID-shaped project number", "项目编号：440300199001011238", nil},
		{"card-shaped order number", "订单号 6222021234567890128", nil},
		{"model number", "型号 HC-2000K", nil},
		{"version", "v2.3.1 and 1.13800138000", nil},
		{"decimal", "13800138000.5", nil},
		{"IP address", "192.168.1.10", nil},
		{"letters glued before", "A13800138000", nil},
		{"letters glued after", "13800138000B", nil},
		{"longer digit run", "213800138000 and 1380013800012345", nil},
		{"URL path", "https://example.com/orders/13800138000", nil},
		{"No. label", "No.13800138000", nil},
		{"random 18 digits", "110105194912310021", nil},
		{"ID with impossible date", "110105194913310021", nil},
		{"ID born in the future", "110105209901010020", nil},
		{"ID born before 1900", "110105189912310023", nil},
		{"ID with unknown province", "100105198001010022", nil},
		{"card failing Luhn", "6222 0212 3456 7890 127", nil},
		{"Luhn-valid date serial", "2025031800012345675", nil},
		{"repeated zeros", "0000000000000000", nil},
		{"local number starting with 1", "010-12345678", nil},
		{"hotline", "400-820-8820", nil},
		{"short numbers", "第3季度 30 台，5%", nil},
		{"unlabelled account digits", "参考 4000 0233 0920 0123 456", nil},
		{"at sign without domain", "@王总 see you @ 3pm, a@b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(tt.text)
			if g := kindsAndTexts(got); !slices.Equal(g, tt.want) {
				t.Errorf("Detect(%q) = %v, want %v", tt.text, g, tt.want)
			}
			for _, f := range got {
				if tt.text[f.Start:f.End] != f.Text {
					t.Errorf("finding %v: text[%d:%d] = %q", f, f.Start, f.End, tt.text[f.Start:f.End])
				}
			}
		})
	}
}

// meetingNotes is a realistic transcript of a sales meeting: personal
// data mixed with amounts, dates and tender numbers that must survive.
const meetingNotes = `【会议纪要】深圳市数据局 政务云扩容项目 2025-03-18 14:00
参会：王总（信息中心主任）、李工、我方销售张伟
王总：预算已经批了，4,860,000 元，另有 880 万元的二期在 2026 年申请。招标编号 SZSJ-2025-GK-017，预计 4 月 15 日挂网。
王总：有问题直接打我手机 138 0013 8000，或者办公室座机 (0755) 8888 6666 转 801。
李工：技术参数按 HC-2000K 的 2 倍配置，可用性 99.95%，管理网段 192.168.10.0/24。
张伟：我们的投标联系人是 zhang.wei@dealdesk.example.cn，法人身份证号 11010519491231002X 已提交备案。
李工：投标保证金 200,000 元，汇入账户：4000 0233 0920 0123 456（开户行：工商银行深圳分行），退款请提供卡号 6222 0212 3456 7890 128。
王总：下周一前把 v2.3 方案发我。`

func TestDetectMeetingNotes(t *testing.T) {
	want := []found{
		{Phone, "138 0013 8000"},
		{Landline, "(0755) 8888 6666 转 801"},
		{Email, "zhang.wei@dealdesk.example.cn"},
		{IDCard, "11010519491231002X"},
		{BankCard, "4000 0233 0920 0123 456"},
		{BankCard, "6222 0212 3456 7890 128"},
	}
	if got := kindsAndTexts(Detect(meetingNotes)); !slices.Equal(got, want) {
		t.Errorf("Detect(meeting notes) =\n%v\nwant\n%v", got, want)
	}
}

func TestValidIDNumber(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"11010519491231002X", true},
		{"11010519491231002x", true},
		{"440305198207151233", true},
		{"320583198506150823", true},
		{"310115198808081237", true},
		{"110105194912310021", false}, // check character should be X
		{"440305198207151234", false},
		{"110105194913310021", false}, // month 13
		{"110105194902300020", false}, // 30 February
		{"110105209901010020", false}, // born in 2099
		{"100105198001010022", false}, // no province 10
		{"11010519491231002Y", false},
		{"1101051949123100", false},
	}
	for _, tt := range tests {
		if got := validIDNumber(tt.id); got != tt.want {
			t.Errorf("validIDNumber(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		digits string
		want   bool
	}{
		{"6222021234567890128", true},
		{"4111111111111111", true},
		{"79927398713", true},
		{"2025031800012345675", true},
		{"6222021234567890127", false},
		{"4111111111111112", false},
		{"79927398710", false},
	}
	for _, tt := range tests {
		if got := luhn(tt.digits); got != tt.want {
			t.Errorf("luhn(%q) = %v, want %v", tt.digits, got, tt.want)
		}
	}
}

func FuzzDetectNoPanic(f *testing.F) {
	for _, s := range []string{meetingNotes, "+86 138 0013 8000", "(010)62345678转1", "11010519491231002X", "a@b.cn", "账号 123456789", "（０２１）６２３４ ５６７８"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		end := 0
		for _, fd := range Detect(text) {
			if fd.Start < end || fd.End <= fd.Start || fd.End > len(text) {
				t.Fatalf("Detect(%q): finding %+v overlaps, is empty or out of range", text, fd)
			}
			end = fd.End
			if text[fd.Start:fd.End] != fd.Text {
				t.Fatalf("Detect(%q): finding %+v does not match its offsets", text, fd)
			}
			if utf8.ValidString(text) && !utf8.ValidString(fd.Text) {
				t.Fatalf("Detect(%q): finding %+v splits a character", text, fd)
			}
			if strings.ContainsAny(fd.Text, "⟦⟧") {
				t.Fatalf("Detect(%q): finding %+v reaches into a placeholder", text, fd)
			}
		}
	})
}

func BenchmarkDetect(b *testing.B) {
	b.SetBytes(int64(len(transcript5K)))
	for b.Loop() {
		Detect(transcript5K)
	}
}
