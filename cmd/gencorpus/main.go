// Command gencorpus writes a synthetic knowledge base of a given size, for
// benchmarks (`make bench` ingests 200 MB of it to measure peak memory).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dealdesk/dealdesk/knowledge/knowledgetest"
)

func main() {
	dir := flag.String("dir", "", "output folder (required)")
	mb := flag.Int64("mb", 200, "approximate size in megabytes")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *dir == "" {
		flag.Usage()
		os.Exit(2)
	}
	files, n, err := knowledgetest.WriteCorpus(*dir, *mb<<20, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d files, %.1f MB, to %s\n", files, float64(n)/(1<<20), *dir)
}
