package api

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/knowledge"
)

// upload sends a multipart document upload.
func (h *harness) upload(key, filename string, data []byte, fields map[string]string) response {
	h.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	part, err := w.CreateFormFile("file", filename)
	if err != nil {
		h.t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	req, _ := http.NewRequest("POST", h.http.URL+"/v1/documents", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../knowledge/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDocumentUploadLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	r := h.upload(h.admin.Secret, "tender_zh.pdf", testdata(t, "tender_zh.pdf"), map[string]string{
		"kind": "tender", "region": "jiangsu", "tags": "govdata, 信创",
	})
	if r.status != http.StatusAccepted {
		t.Fatalf("upload = %d %s", r.status, r.body)
	}
	var acc documentAccepted
	r.json(t, &acc)
	if acc.JobID == "" || acc.DocumentID == "" || acc.Status != "queued" {
		t.Fatalf("accepted = %+v", acc)
	}
	var job knowledge.Job
	h.do("GET", acc.StatusURL, h.admin.Secret, "").json(t, &job)
	if job.Status != knowledge.JobQueued {
		t.Fatalf("job before work = %+v", job)
	}
	// The job is on the Postgres queue; work it the way `serve` does.
	if worked, err := h.srv.queue.RunOne(context.Background()); !worked || err != nil {
		t.Fatalf("RunOne = %v, %v", worked, err)
	}
	h.do("GET", acc.StatusURL, h.admin.Secret, "").json(t, &job)
	if job.Status != knowledge.JobSucceeded || job.Progress != 1 || job.Result == nil || job.Result.Chunks == 0 ||
		job.DocumentID.String() != acc.DocumentID {
		t.Fatalf("job after work = %+v", job)
	}
	// Another tenant cannot see the job.
	h.do("GET", acc.StatusURL, h.otherK.Secret, "").problem(t, 404, "not_found")

	var doc knowledge.Document
	r = h.do("GET", "/v1/documents/"+acc.DocumentID, h.rep.Secret, "")
	r.json(t, &doc)
	if r.status != 200 || doc.Kind != knowledge.KindTender || doc.Region != "jiangsu" || doc.Source != "tender_zh.pdf" ||
		doc.Version != 1 || doc.Chunks != job.Result.Chunks || len(doc.Tags) != 2 {
		t.Fatalf("document = %d %+v", r.status, doc)
	}
	var list documentList
	h.do("GET", "/v1/documents?kind=tender&region=jiangsu", h.rep.Secret, "").json(t, &list)
	if len(list.Documents) != 1 || list.Documents[0].ID.String() != acc.DocumentID {
		t.Fatalf("list = %+v", list)
	}
	h.do("GET", "/v1/documents/"+acc.DocumentID, h.otherK.Secret, "").problem(t, 404, "not_found")
	h.do("DELETE", "/v1/documents/"+acc.DocumentID, h.rep.Secret, "").problem(t, 403, "forbidden")
	if r := h.do("DELETE", "/v1/documents/"+acc.DocumentID, h.admin.Secret, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	h.do("GET", "/v1/documents/"+acc.DocumentID, h.admin.Secret, "").problem(t, 404, "not_found")
}

func TestTextDocumentIsIngestedAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	body := `{"title":"锦江区政务云续费纪要","text":"王总说要等财政拨款，预计三月到位。The customer wants Kunpeng support.","kind":"meeting","region":"jiangsu","tags":["续费"]}`
	r := h.do("POST", "/v1/documents", h.rep.Secret, body)
	if r.status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	var created documentCreated
	r.json(t, &created)
	if created.Outcome != knowledge.Created || created.Document.Kind != knowledge.KindMeeting || created.Chunks != 1 ||
		!strings.HasPrefix(created.Document.Source, "api/") {
		t.Fatalf("created = %+v", created)
	}
	// Sending the same document again changes nothing.
	r = h.do("POST", "/v1/documents", h.rep.Secret, body)
	r.json(t, &created)
	if r.status != http.StatusCreated || created.Outcome != knowledge.Unchanged || created.Version != 1 {
		t.Fatalf("resend = %d %+v", r.status, created)
	}
}

func TestBadUploadsGetClearProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{UploadLimit: "1M"})
	tests := []struct {
		name, file string
		data       []byte
		fields     map[string]string
		status     int
		code       string
	}{
		{"corrupt pdf", "broken.pdf", testdata(t, "corrupt.pdf"), map[string]string{"kind": "tender"}, 422, "corrupt_file"},
		{"empty file", "empty.txt", nil, map[string]string{"kind": "tender"}, 400, "empty_file"},
		{"image", "photo.png", testdata(t, "image.png"), map[string]string{"kind": "tender"}, 415, "unsupported_file_type"},
		{"zip bomb docx", "bomb.docx", testdata(t, "bomb.docx"), map[string]string{"kind": "tender"}, 413, "file_too_large"},
		{"scanned pdf", "scan.pdf", testdata(t, "scanned.pdf"), map[string]string{"kind": "tender"}, 422, "no_text_layer"},
		{"no kind", "notes.txt", []byte("some notes"), nil, 400, "invalid_metadata"},
		{"unknown kind", "notes.txt", []byte("some notes"), map[string]string{"kind": "memo"}, 400, "validation_failed"},
		{"bad metadata json", "notes.txt", []byte("some notes"), map[string]string{"kind": "email", "metadata": "{"}, 400, "validation_failed"},
		{"over the upload limit", "big.txt", bytes.Repeat([]byte("很长的文本。"), 70000), map[string]string{"kind": "email"}, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.upload(h.admin.Secret, tt.file, tt.data, tt.fields).problem(t, tt.status, tt.code)
		})
	}
	// Nothing was queued or stored.
	var list documentList
	h.do("GET", "/v1/documents", h.admin.Secret, "").json(t, &list)
	if worked, _ := h.srv.queue.RunOne(context.Background()); worked || len(list.Documents) != 0 {
		t.Fatalf("bad uploads left work behind: queued=%v docs=%d", worked, len(list.Documents))
	}
}

func TestRegionLimitedKeysWriteOnlyTheirRegions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	// h.rep may only see jiangsu.
	h.upload(h.rep.Secret, "gd.md", []byte("# 广东\n\n光明区项目纪要"), map[string]string{"kind": "meeting", "region": "guangdong"}).
		problem(t, 403, "forbidden")
	h.do("POST", "/v1/documents", h.rep.Secret, `{"title":"x","text":"y","kind":"email"}`).problem(t, 403, "forbidden")
	if r := h.upload(h.rep.Secret, "js.md", []byte("# 江苏\n\n江宁项目纪要"), map[string]string{"kind": "meeting", "region": "jiangsu"}); r.status != 202 {
		t.Fatalf("own region upload = %d %s", r.status, r.body)
	}
	// Uploaded by the admin into guangdong: invisible to the jiangsu rep.
	r := h.do("POST", "/v1/documents", h.admin.Secret, `{"title":"光明区","text":"光明区 IOC 项目预算 960 万","kind":"tender","region":"guangdong"}`)
	var created documentCreated
	r.json(t, &created)
	h.do("GET", "/v1/documents/"+created.DocumentID.String(), h.rep.Secret, "").problem(t, 404, "not_found")
	var list documentList
	h.do("GET", "/v1/documents", h.rep.Secret, "").json(t, &list)
	for _, d := range list.Documents {
		if d.Region == "guangdong" {
			t.Fatalf("jiangsu rep lists a guangdong document: %+v", d)
		}
	}
}
