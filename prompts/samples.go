package prompts

import "github.com/dealdesk/dealdesk/providers"

// The sample inputs every template must render at load time: one in
// Chinese, one in English and one that leaves the language to the
// template. They are realistic on purpose (they come from the demo
// knowledge base's fictional world) so that the tests read like real use.

var zhSources = []providers.Source{
	{ID: "S1", Title: "云擎政数 CloudHelm GovData V5.2 产品技术白皮书", Kind: "product",
		Text: "API 网关峰值吞吐 12,000 TPS，接口响应时间 P95 ≤ 200 ms。支持资源目录 ≥ 100,000 条。授权运营模块支持隐私计算沙箱，原始数据不出域。已完成鲲鹏、飞腾、海光三种 CPU 兼容性互认。"},
	{ID: "S2", Title: "苏州市数据局一网通办平台项目（赢单复盘）", Kind: "won_deal",
		Text: "苏州市数据局一网通办平台升级改造，合同签订 2025 年 3 月 18 日，2025 年 6 月 26 日上线（合同后第 100 天）。赢单原因：本地化交付团队、信创适配证书齐全。"},
	{ID: "S3", Title: "江宁区公共数据平台二期项目交流会记录（2026-01-20）", Kind: "meeting",
		Text: "王总：二期总盘子 610 万，专项债 350 万已发，区级财政 260 万待 2 月区人大批准。孙立：授权运营的收益结算要和专项债收益测算对得上。华拓上个月也来过。"},
}

var enSources = []providers.Source{
	{ID: "S1", Title: "Win review: Jiangsu Hengrui Precision Group moves off Northwind to CloudHelm HCI", Kind: "won_deal",
		Text: "Northwind's renewal quote was CNY 2,100,000 for three years, about 40% more than budgeted. We migrated ERP, MES and PLM with V2V live migration and zero downtime; five-year TCO came out 38% lower."},
	{ID: "S2", Title: "CloudHelm HCI 6.0 product sheet", Kind: "product",
		Text: "3 to 64 nodes per cluster, 300k IOPS per node. HC-2000K (2x Kunpeng 920) and HC-2000H (Hygon) appliances. vGPU is planned for 2026 Q2."},
	{ID: "S3", Title: "Jiangsu project funding sources", Kind: "policy",
		Text: "Enterprise customers fund infrastructure from their capital budget; approvals usually follow the board's Q4 planning cycle."},
}

func emailDraftSamples() []any {
	zh := EmailDraftInput{
		Common:        Common{Language: "zh", Seller: "云擎科技", Sources: zhSources},
		Purpose:       "follow_up",
		Customer:      "南京市江宁区数据局",
		RecipientName: "王建国",
		RecipientRole: "数字江宁科技有限公司总经理",
		Sender:        "周宁，云擎科技华东区客户经理",
		DealContext:   "1 月 20 日交流会后跟进；客户关注专项债审计合规、授权运营收益结算和双芯片证书；华拓数科是无锡存量承建方。",
		Tone:          "正式、诚恳",
		Length:        "medium",
		Instructions:  "附上授权运营模块说明，邀请 2 月上旬参观苏州项目。",
	}
	en := EmailDraftInput{
		Common:        Common{Language: "en", Seller: "CloudHelm Technologies", Sources: enSources},
		Purpose:       "win_back",
		Customer:      "Suzhou Industrial Park Medical Devices Co.",
		RecipientName: "Ms. Gu",
		RecipientRole: "CFO",
		Sender:        "Xu Lei, Enterprise Account Manager",
		DealContext:   "We lost their 2024 virtualisation refresh to Northwind on price. Their three-year Northwind subscription is up for renewal next spring.",
		Tone:          "warm, brief",
		Length:        "short",
	}
	auto := zh
	auto.Language = ""
	return []any{zh, en, auto}
}

func meetingNotesSamples() []any {
	zh := MeetingNotesInput{
		Common:   Common{Language: "zh", Seller: "云擎科技", Sources: zhSources[:2]},
		Customer: "南京市江宁区数据局",
		Date:     "2026-01-20",
		Participants: []Person{
			{Name: "王建国", Role: "数字江宁科技有限公司总经理", Side: "customer"},
			{Name: "孙立", Role: "江宁区数据局副局长", Side: "customer"},
			{Name: "周宁", Role: "华东区客户经理", Side: "ours"},
		},
		Transcript: "王总：二期总盘子 610 万。专项债那部分 350 万去年已经发下来了，剩下的 260 万是区级财政，要等 2 月上旬区人大开完会才能批，估计 2 月中旬挂网，3 月中开标。\n" +
			"孙立：今年重点是授权运营，数据产品登记、授权审批、收益结算这几块必须有。另外 CPU 要求至少两种国产芯片都有证书。\n" +
			"王总：华拓上个月也来过，他们说苏州、无锡都是他们做的。\n" +
			"周宁：苏州一网通办是我们做的，100 天上线。我们下周五前把授权运营模块说明发给您，并安排 2 月上旬去苏州参观。",
	}
	en := MeetingNotesInput{
		Common:   Common{Language: "en", Seller: "CloudHelm Technologies", Sources: enSources[:1]},
		Customer: "Jiangsu Hengrui Precision Group",
		Date:     "2024-08-27",
		Participants: []Person{
			{Name: "Qian Haifeng", Role: "CIO", Side: "customer"},
			{Name: "Gu Xiaowen", Role: "CFO", Side: "customer"},
			{Name: "Xu Lei", Role: "Account Manager", Side: "ours"},
		},
		Transcript: "Qian: Northwind wants 2.1 million for three years. That is forty percent over what we planned.\n" +
			"Gu: The board signs off capital spending in October. I need a five-year cost comparison before then.\n" +
			"Qian: My worry is migration. MES cannot stop for more than an hour.\n" +
			"Xu: We will send the TCO model by Friday and propose a live-migration test on one MES host.",
	}
	auto := zh
	auto.Language = ""
	return []any{zh, en, auto}
}

func talkTrackSamples() []any {
	zh := TalkTrackInput{
		Common:      Common{Language: "zh", Seller: "云擎科技", Sources: zhSources},
		Customer:    "南京市江宁区数据局",
		Region:      "江苏",
		Industry:    "政府",
		Stage:       "solution",
		Products:    []string{"云擎政数 GovData V5.2"},
		Competitors: []string{"华拓数科"},
		Contacts:    []Person{{Name: "王建国", Role: "建设运营单位总经理", Side: "customer"}, {Name: "孙立", Role: "数据局副局长", Side: "customer"}},
		Notes:       "准备 2 月上旬苏州参观时的话术。",
	}
	en := TalkTrackInput{
		Common:      Common{Language: "en", Seller: "CloudHelm Technologies", Sources: enSources},
		Customer:    "Jiangsu Hengrui Precision Group",
		Region:      "Jiangsu",
		Industry:    "manufacturing",
		Stage:       "negotiation",
		Products:    []string{"CloudHelm HCI 6.0"},
		Competitors: []string{"Northwind Systems"},
		Contacts:    []Person{{Name: "Gu Xiaowen", Role: "CFO", Side: "customer"}},
	}
	auto := zh
	auto.Language = ""
	return []any{zh, en, auto}
}

func objectionSamples() []any {
	zh := ObjectionInput{
		Common:     Common{Language: "zh", Seller: "云擎科技", Sources: zhSources},
		Objection:  "华拓说苏州、无锡都是他们做的，他们业绩比你们多，我们为什么要冒险选你们？",
		Customer:   "南京市江宁区数据局",
		Stage:      "solution",
		Competitor: "华拓数科",
		Context:    "客户是建设运营单位总经理，关注审计合规和上线周期。",
	}
	en := ObjectionInput{
		Common:     Common{Language: "en", Seller: "CloudHelm Technologies", Sources: enSources},
		Objection:  "Moving off Northwind is too risky for our MES; we cannot afford downtime.",
		Customer:   "Jiangsu Hengrui Precision Group",
		Stage:      "negotiation",
		Competitor: "Northwind Systems",
	}
	auto := zh
	auto.Language = ""
	return []any{zh, en, auto}
}

func tenderAnalysisSamples() []any {
	zh := TenderAnalysisInput{
		Common:   Common{Language: "zh", Seller: "云擎科技", Sources: zhSources[:2]},
		Title:    "南京市江宁区公共数据平台（二期）建设项目招标文件（摘要）",
		Customer: "南京市江宁区数据局",
		Products: []string{"云擎政数 GovData V5.2"},
		Tender: "项目编号 JNSJ-2026-GK-003；预算金额 6,100,000 元；投标截止时间 2026 年 3 月 16 日 09:30；投标保证金 60,000 元。\n" +
			"资格要求：具有 CS3 及以上证书；具有 ISO/IEC 27001、ISO/IEC 20000 认证；不接受联合体投标。\n" +
			"技术参数：★ 平台须与鲲鹏、飞腾、海光中至少两种 CPU 完成兼容性互认；▲ API 网关峰值吞吐 ≥ 10,000 TPS；▲ 资源目录容量 ≥ 80,000 条。\n" +
			"评分标准：价格 30 分（低价优先法）；技术方案 30 分；信创适配 8 分（三种 CPU 均有证书得满分）；同类业绩 10 分。",
	}
	en := TenderAnalysisInput{
		Common:   Common{Language: "en", Seller: "CloudHelm Technologies", Sources: enSources[1:2]},
		Title:    "Hengrui Precision Group private cloud refresh RFP",
		Customer: "Jiangsu Hengrui Precision Group",
		Products: []string{"CloudHelm HCI 6.0"},
		Tender: "Scope: 5-node hyper-converged cluster for ERP, MES and PLM. Proposals due 20 September 2024 17:00. Bid bond: none.\n" +
			"Mandatory: live migration from Northwind HyperStack without downtime; GPU virtualisation for the PLM workstations.\n" +
			"Evaluation: five-year TCO 40 points, migration plan 30 points, references 20 points, support 10 points.",
	}
	auto := zh
	auto.Language = ""
	return []any{zh, en, auto}
}

func competitiveIntelSamples() []any {
	zh := CompetitiveIntelInput{
		Common:      Common{Language: "zh", Seller: "云擎科技", Sources: zhSources[:2]},
		Title:       "广东区域一线反馈（2025-11）",
		Competitors: []string{"锐云信息"},
		Text: "锐云信息在光明区 IOC 项目报价约 98 万，比我们低 25% 左右，号称 30 天完成 POC。" +
			"他们的销售说已经拿到飞腾、海光的认证，但客户信息中心没见到证书。华拓数科这次没有参与。",
	}
	en := CompetitiveIntelInput{
		Common:      Common{Language: "en", Seller: "CloudHelm Technologies", Sources: enSources[:2]},
		Title:       "Call notes, Hengrui procurement",
		Competitors: []string{"Northwind Systems"},
		Text: "Procurement says Northwind came back with CNY 1.8M for three years including tax, down from 2.1M, " +
			"and claims its new HyperStack 9 supports vGPU today. They also said two other Changzhou plants renewed last month.",
	}
	auto := zh
	auto.Language = ""
	return []any{zh, en, auto}
}
