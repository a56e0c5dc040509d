// Package knowledgetest generates synthetic knowledge bases for benchmarks:
// Markdown documents in Chinese and English with front matter, of a chosen
// size, deterministic for a seed.
package knowledgetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"
)

var (
	zhSentences = []string{
		"项目预算为%d万元，资金来源为财政拨款和专项债。", "投标人须具备信创适配证书，支持鲲鹏、飞腾和海光平台。",
		"平台需支持%d路视频接入，夜间识别准确率不低于93%%。", "客户王总表示要等第%d季度财政资金到位后再启动采购。",
		"竞争对手华拓数科报价高出%d%%，但持有涉密甲级资质。", "数据分类分级须符合GB/T 43697-2024的要求，完成率达到%d%%。",
		"评分标准中技术分占%d分，价格分占30分，商务分占10分。", "超融合节点采用国产CPU，单节点内存%dGB，支持热迁移。",
	}
	enSentences = []string{
		"The customer asked for a %d-day pilot before the tender is published.", "Our bid was %d percent below the budget ceiling.",
		"Northwind raised maintenance prices by %d percent in 2024.", "The data platform processed %d thousand cases per day in production.",
		"Decision makers care about localisation certificates and delivery time of %d weeks.", "Support engineers reach the site within %d hours.",
	}
)

// SyntheticCorpus makes docs Markdown documents of about chunksPerDoc
// chunks each, in Chinese and English, deterministic for a seed.
func SyntheticCorpus(docs, chunksPerDoc int, seed uint64) fstest.MapFS {
	r := rand.New(rand.NewPCG(seed, seed))
	fsys := fstest.MapFS{}
	kinds := []string{"tender", "policy", "won_deal", "product", "meeting", "competitor"}
	regions := []string{"jiangsu", "zhejiang", "guangdong", "sichuan", "beijing"}
	for d := range docs {
		var b strings.Builder
		fmt.Fprintf(&b, "---\nkind: %s\ntitle: 合成文档 %d Synthetic document\nregion: %s\n---\n# 合成文档 %d\n\n",
			kinds[d%len(kinds)], d, regions[d%len(regions)], d)
		for s := range chunksPerDoc {
			fmt.Fprintf(&b, "## 第%d节 Section %d\n\n", s+1, s+1)
			b.WriteString(Passage(r, 9))
			b.WriteString("\n\n")
		}
		fsys[fmt.Sprintf("%s/doc-%05d.md", kinds[d%len(kinds)], d)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	return fsys
}

// WriteCorpus writes SyntheticCorpus documents under dir until about
// totalBytes are written, and returns the number of files and bytes.
func WriteCorpus(dir string, totalBytes int64, seed uint64) (files int, written int64, err error) {
	for batch := uint64(0); written < totalBytes; batch++ {
		fsys := SyntheticCorpus(100, 40, seed+batch)
		for name, f := range fsys {
			p := filepath.Join(dir, fmt.Sprintf("batch-%04d", batch), filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return files, written, err
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				return files, written, err
			}
			files++
			written += int64(len(f.Data))
			if written >= totalBytes {
				break
			}
		}
	}
	return files, written, nil
}

// Passage makes n random sentences, two thirds Chinese, one third English.
func Passage(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		pool := zhSentences
		if r.IntN(3) == 0 {
			pool = enSentences
		}
		fmt.Fprintf(&b, pool[r.IntN(len(pool))]+" ", r.IntN(9000)+10)
	}
	return b.String()
}
