package providers

// stopwords are Chinese and English function words. The offline embedder
// down-weights them and the offline generator ignores them when matching
// a question to source sentences: they occur everywhere, so sharing them
// says nothing about sharing a topic. Question words (什么, how) are here
// for the same reason.
var stopwords = func() map[string]struct{} {
	words := []string{
		// English
		"a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for",
		"with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its",
		"this", "that", "these", "those", "we", "you", "he", "she", "they", "i", "our", "your",
		"their", "his", "her", "them", "us", "me", "my", "not", "no", "do", "does", "did",
		"have", "has", "had", "will", "would", "can", "could", "should", "may", "might",
		"shall", "so", "than", "then", "there", "here", "what", "which", "who", "whom", "how",
		"when", "where", "why", "all", "any", "each", "also", "into", "about", "over", "such",
		"only", "more", "most", "other", "some", "up", "out", "just", "please", "tell",
		// Chinese
		"的", "了", "是", "在", "和", "与", "及", "或", "也", "都", "就", "而", "对", "将", "为",
		"把", "被", "从", "向", "以", "于", "之", "其", "这", "那", "这个", "那个", "这些", "那些",
		"我", "你", "他", "她", "它", "我们", "你们", "他们", "一个", "没有", "有", "不", "很",
		"还", "又", "并", "等", "吗", "呢", "吧", "啊", "着", "过", "个", "如果", "因为", "所以",
		"但是", "可以", "已经", "进行", "以及", "什么", "如何", "怎么", "怎样", "哪些", "是否",
		"请", "请问", "一下",
	}
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}()

func isStopword(w string) bool {
	_, ok := stopwords[w]
	return ok
}
