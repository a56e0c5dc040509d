package knowledgetest

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/knowledge"
)

// IngestDemo ingests the demo knowledge base (knowledge/demo, embedded in
// the binary) for tenant, and fails, naming each file's reason, if any of
// its files fails or nothing was stored.
func IngestDemo(ctx context.Context, st *knowledge.Store, tenant uuid.UUID) (knowledge.Summary, error) {
	sub, err := fs.Sub(knowledge.DemoFS, "demo")
	if err != nil {
		return knowledge.Summary{}, err
	}
	files, err := knowledge.FilesIn(sub)
	if err != nil {
		return knowledge.Summary{}, err
	}
	var failed []string // IngestFiles calls onDone one file at a time
	sum := st.IngestFiles(ctx, tenant, files, 2, func(r knowledge.FileResult) {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", r.File.Source, r.Err))
		}
	})
	if len(failed) > 0 || sum.Failed > 0 || sum.Chunks == 0 {
		return sum, fmt.Errorf("ingest the demo knowledge base: %+v: %s", sum, strings.Join(failed, "; "))
	}
	return sum, nil
}
