package lang

// stopWords are Chinese function words and question words: they occur in
// almost every chunk, so as search terms they match everything, rank nothing
// and make the lexical arm rank the whole corpus. English stop words are
// PostgreSQL's: the english text search configuration drops them.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		// particles and conjunctions
		"的", "地", "得", "了", "着", "过", "和", "与", "及", "以及", "或", "或者", "而", "而且", "并", "并且",
		"但", "但是", "可是", "然而", "因为", "所以", "因此", "如果", "虽然", "还是", "也", "又", "就", "都",
		"才", "还", "很", "更", "最", "再", "已", "已经", "曾", "曾经", "将", "会", "能", "要", "想", "该",
		// prepositions
		"在", "对", "对于", "关于", "把", "被", "让", "给", "从", "向", "往", "于", "以", "为", "为了", "比",
		"跟", "同", "由", "按", "按照", "根据", "通过",
		// pronouns and demonstratives
		"我", "你", "您", "他", "她", "它", "我们", "你们", "他们", "她们", "它们", "咱们", "自己", "大家",
		"这", "那", "这个", "那个", "这些", "那些", "这里", "那里", "这样", "那样", "其", "其中", "之", "此",
		"各", "每", "某", "有些", "一些", "一个", "个",
		// question words and sentence-final particles
		"哪", "哪个", "哪些", "哪里", "什么", "怎么", "怎样", "怎么样", "如何", "为什么", "多少", "几",
		"吗", "呢", "吧", "啊", "呀", "嘛", "哦", "么",
		// verbs too common to search by
		"是", "有", "没有", "没", "说", "做", "去", "来", "到", "用", "看",
	} {
		m[w] = true
	}
	return m
}()

// IsStopWord reports whether w, a word of Words, is too common to search by.
func IsStopWord(w string) bool { return stopWords[w] }
