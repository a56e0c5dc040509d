package knowledgetest

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/google/uuid"

	"github.com/dealdesk/dealdesk/knowledge"
)

// IngestDemo ingests the demo knowledge base (knowledge/demo, embedded in
// the binary) for tenant, and fails if any of its files fails.
func IngestDemo(ctx context.Context, st *knowledge.Store, tenant uuid.UUID) (knowledge.Summary, error) {
	sub, err := fs.Sub(knowledge.DemoFS, "demo")
	if err != nil {
		return knowledge.Summary{}, err
	}
	files, err := knowledge.FilesIn(sub)
	if err != nil {
		return knowledge.Summary{}, err
	}
	sum := st.IngestFiles(ctx, tenant, files, 2, nil)
	if sum.Failed > 0 || sum.Chunks == 0 {
		return sum, fmt.Errorf("ingest the demo knowledge base: %+v", sum)
	}
	return sum, nil
}
