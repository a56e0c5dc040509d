package api

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/dealdesk/dealdesk/scoring"
)

func (h *harness) uploadForm(path, key string, parts map[string]string, files map[string]string) response {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range parts {
		_ = mw.WriteField(k, v)
	}
	for name, content := range files {
		fw, _ := mw.CreateFormFile(name, name+".csv")
		_, _ = io.WriteString(fw, content)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, h.http.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func TestOpportunityUpsertAndBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	key := h.admin.Secret
	r := h.do("POST", "/v1/opportunities", key, `{"external_id":"CRM-1","stage":"Proposal","amount":120000,"region":"jiangsu","competitors":["Huawei"]}`)
	var got opportunityResponse
	r.json(t, &got)
	if r.status != 201 || !got.Created || got.Stage != "proposal" || got.ID.String() == "" {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/opportunities", key, `{"external_id":"CRM-1","stage":"negotiation","region":"jiangsu"}`)
	if r.status != 200 || strings.Contains(string(r.body), `"created":true`) {
		t.Fatalf("update = %d %s", r.status, r.body)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"stage":"lead"}`, "external_id"},
		{`{"external_id":"x"}`, "stage"},
		{`{"external_id":"x","stage":"dreaming"}`, "stage"},
		{`{"external_id":"x","stage":"lead","amount":-5}`, "amount"},
		{`{"external_id":"x","stage":"lead","colour":"red"}`, "colour"},
	} {
		p := h.do("POST", "/v1/opportunities", key, tt.body).problem(t, 400, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
			t.Errorf("%s: problem %+v", tt.body, p)
		}
	}
	// The rep (jiangsu) may not write, nor see, other regions.
	h.do("POST", "/v1/opportunities", h.rep.Secret, `{"external_id":"BJ-1","stage":"lead","region":"beijing"}`).problem(t, 400, "validation_failed")
	h.do("POST", "/v1/opportunities", key, `{"external_id":"BJ-1","stage":"lead","region":"beijing"}`)
	h.do("POST", "/v1/opportunities/score", h.rep.Secret, `{"external_id":"BJ-1"}`).problem(t, 404, "not_found")
	// Other tenants see nothing.
	h.do("POST", "/v1/opportunities/score", h.otherK.Secret, `{"external_id":"CRM-1"}`).problem(t, 404, "not_found")
}

func TestScoringThroughTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	key := h.admin.Secret
	// Cold start: the built-in rules, labelled.
	h.do("POST", "/v1/opportunities", key, `{"external_id":"CRM-1","stage":"proposal","days_in_stage":200,"meetings":0,"emails":0,"calls":0}`)
	var s scoring.Score
	r := h.do("POST", "/v1/opportunities/score", h.rep.Secret, `{"external_id":"CRM-1"}`)
	r.json(t, &s)
	if r.status != 200 || s.Model.Version != 0 || s.Model.Method != scoring.MethodRules || !s.Risk.Flag || len(s.NextActions) == 0 ||
		s.SimilarWonDeals == nil {
		t.Fatalf("cold score = %d %s", r.status, r.body)
	}

	csv, err := os.ReadFile("../scoring/testdata/opportunities.csv")
	if err != nil {
		t.Fatal(err)
	}
	h.uploadForm("/v1/opportunities/import", h.rep.Secret, nil, map[string]string{"file": string(csv)}).problem(t, 403, "forbidden")
	h.uploadForm("/v1/opportunities/import", key, map[string]string{"mapping": "nope"}, map[string]string{"file": string(csv)}).problem(t, 400, "validation_failed")
	h.uploadForm("/v1/opportunities/import", key, nil, map[string]string{"file": "id,stage\n1,lead\n"}).problem(t, 400, "bad_mapping")
	r = h.uploadForm("/v1/opportunities/import", key, map[string]string{"mapping": "generic"}, map[string]string{"file": string(csv) + "BAD-1,dreaming\n"})
	var imp scoring.ImportResult
	r.json(t, &imp)
	if r.status != 200 || imp.Imported != 600 || len(imp.Errors) != 1 || imp.Errors[0].Field != "stage" {
		t.Fatalf("import = %d %s", r.status, r.body)
	}
	// 560 new outcomes: the server retrains in the background.
	h.srv.scoring.Wait()
	var model scoringModelResponse
	h.do("GET", "/v1/scoring/model", h.rep.Secret, "").json(t, &model)
	if model.Active.Version != 1 || model.Active.Method != scoring.MethodLogistic || model.Active.Metrics == nil ||
		model.Active.Metrics.Baseline == nil || len(model.Active.Metrics.Model.Calibration) != 10 || len(model.Versions) != 1 {
		t.Fatalf("model = %+v", model)
	}

	r = h.do("POST", "/v1/opportunities/score", key, `{"opportunity":{"stage":"negotiation","industry":"finance","meetings":6,"amount":20000}}`)
	r.json(t, &s)
	if r.status != 200 || s.Model.Version != 1 || len(s.FactorsFor) == 0 || s.Band == "" {
		t.Fatalf("inline score = %d %s", r.status, r.body)
	}

	var batch batchScoreResponse
	r = h.do("POST", "/v1/opportunities/score:batch", key, `{"opportunities":[{"external_id":"OPP-0001"},{"external_id":"OPP-0599"},{"opportunity":{"stage":"lead"}}]}`)
	r.json(t, &batch)
	if r.status != 200 || len(batch.Scores) != 3 || batch.Model.Version != 1 || batch.Scores[1].ExternalID != "OPP-0599" {
		t.Fatalf("batch = %d %s", r.status, r.body)
	}
	ids := make([]string, scoring.MaxBatch+1)
	for i := range ids {
		ids[i] = fmt.Sprintf(`{"external_id":"OPP-%04d"}`, i%600)
	}
	h.do("POST", "/v1/opportunities/score:batch", key, `{"opportunities":[`+strings.Join(ids, ",")+`]}`).problem(t, 413, "batch_too_large")
	h.do("POST", "/v1/opportunities/score:batch", key, `{"opportunities":[]}`).problem(t, 400, "validation_failed")
	h.do("POST", "/v1/opportunities/score:batch", key, `{"opportunities":[{"external_id":"missing"}]}`).problem(t, 404, "not_found")
	h.do("POST", "/v1/opportunities/score:batch", key, `{"opportunities":[{"opportunity":{"stage":"nowhere"}}]}`).problem(t, 400, "validation_failed")
	h.do("POST", "/v1/opportunities/score", key, `{}`).problem(t, 400, "validation_failed")
	// The literal colon does not turn into a path parameter.
	h.do("POST", "/v1/opportunities/score:other", key, `{}`).problem(t, 404, "not_found")
}
