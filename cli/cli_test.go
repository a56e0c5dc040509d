package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dealdesk/dealdesk/store/storetest"
)

// run executes the command line with the given environment.
func run(t *testing.T, envv map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb, func(k string) string { return envv[k] })
	return code, out.String(), errb.String()
}

func TestServeHelpDocumentsEveryVariable(t *testing.T) {
	code, _, stderr := run(t, nil, "serve", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"DEALDESK_DATABASE_URL", "DEALDESK_MODEL_PROVIDER", "DEALDESK_MODEL_BASE_URL", "DEALDESK_CHAT_MODEL",
		"DEALDESK_EMBED_DIM", "DEALDESK_ADDR", "DEALDESK_RATE_LIMIT", "DEALDESK_CORS_ORIGINS", "DEALDESK_BODY_LIMIT",
		"default offline", "default :8080",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, stderr)
		}
	}
}

func TestConfigurationErrorsAreClear(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"no database", nil, []string{"serve"}, 1, []string{"no database", "DEALDESK_DATABASE_URL"}},
		{"unknown provider", map[string]string{"DEALDESK_DATABASE_URL": "postgres://x@localhost/db", "DEALDESK_MODEL_PROVIDER": "gpt"},
			[]string{"serve"}, 1, []string{"DEALDESK_MODEL_PROVIDER"}},
		{"openai without url", map[string]string{"DEALDESK_DATABASE_URL": "postgres://x@localhost/db", "DEALDESK_MODEL_PROVIDER": "openai"},
			[]string{"serve"}, 1, []string{"DEALDESK_MODEL_BASE_URL", "DEALDESK_CHAT_MODEL"}},
		{"bad number in env", map[string]string{"DEALDESK_RATE_LIMIT": "fast"}, []string{"serve"}, 2, []string{"DEALDESK_RATE_LIMIT"}},
		{"bad log level", map[string]string{"DEALDESK_DATABASE_URL": "postgres://x@localhost/db", "DEALDESK_LOG_LEVEL": "loud"},
			[]string{"serve"}, 1, []string{"DEALDESK_LOG_LEVEL"}},
		{"unknown command", nil, []string{"frobnicate"}, 2, []string{"unknown command"}},
		{"unknown flag", nil, []string{"serve", "--nope"}, 2, []string{"nope"}},
		{"keys without tenant", nil, []string{"keys", "list"}, 2, []string{"--tenant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.env, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c := serveCommand()
	env := map[string]string{"DEALDESK_ADDR": ":9000", "DEALDESK_RATE_LIMIT": "3"}
	if err := c.parse([]string{"--addr", ":9100"}, &bytes.Buffer{}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.cfg.HTTP.Addr != ":9100" || c.cfg.HTTP.RateLimit != 3 {
		t.Fatalf("addr %q rate %v: the flag must win, the environment must apply", c.cfg.HTTP.Addr, c.cfg.HTTP.RateLimit)
	}
}

func TestOperatorCommands(t *testing.T) {
	db := storetest.New(t)
	env := map[string]string{"DEALDESK_DATABASE_URL": db.URL, "DEALDESK_LOG_FORMAT": "text"}

	if code, out, stderr := run(t, env, "migrate", "status"); code != 0 || !strings.Contains(out, "0001") || !strings.Contains(out, "applied") {
		t.Fatalf("migrate status: %d %s %s", code, out, stderr)
	}
	if code, out, _ := run(t, env, "migrate"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if code, _, stderr := run(t, env, "tenants", "create", "acme", "--name", "Acme"); code != 0 {
		t.Fatalf("tenants create: %s", stderr)
	}
	if code, _, stderr := run(t, env, "tenants", "create", "acme"); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("duplicate tenant: %d %s", code, stderr)
	}
	code, key, stderr := run(t, env, "keys", "create", "--tenant", "acme", "--role", "manager", "--regions", "jiangsu,zhejiang", "--name", "east")
	key = strings.TrimSpace(key)
	if code != 0 || !strings.HasPrefix(key, "ddk_") {
		t.Fatalf("keys create: %d %q %s", code, key, stderr)
	}
	code, list, _ := run(t, env, "keys", "list", "--tenant", "acme")
	if code != 0 || !strings.Contains(list, "east") || !strings.Contains(list, "jiangsu,zhejiang") || strings.Contains(list, key) {
		t.Fatalf("keys list: %s", list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	if code, out, stderr := run(t, env, "keys", "revoke", "--tenant", "acme", id); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("keys revoke: %s %s", out, stderr)
	}
	if _, list, _ := run(t, env, "keys", "list", "--tenant", "acme"); !strings.Contains(list, "revoked") {
		t.Fatalf("revoked key not shown as revoked: %s", list)
	}
	if code, _, stderr := run(t, env, "keys", "create", "--tenant", "nope"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Fatalf("unknown tenant: %d %s", code, stderr)
	}
}

// TestServeEndToEnd is `make run` in miniature: demo tenant and key, then
// the real server on a real port answers /readyz, refuses no key, accepts
// the printed key, and stops cleanly on cancel.
func TestServeEndToEnd(t *testing.T) {
	db := storetest.New(t)
	keyFile := filepath.Join(t.TempDir(), "demo.key")
	env := map[string]string{"DEALDESK_DATABASE_URL": db.URL, "DEALDESK_LOG_FORMAT": "text"}

	code, key1, stderr := run(t, env, "demo", "--key-file", keyFile)
	if code != 0 {
		t.Fatalf("demo: %s", stderr)
	}
	_, key2, _ := run(t, env, "demo", "--key-file", keyFile)
	if key1 != key2 {
		t.Fatalf("demo created a second key instead of reusing %q", key1)
	}
	key := strings.TrimSpace(key1)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", addr}, &bytes.Buffer{}, &errb, func(k string) string { return env[k] })
	}()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server not ready: %v\n%s", err, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	get := func(key string) *http.Response {
		req, _ := http.NewRequest("GET", base+"/v1/me", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := get(""); res.StatusCode != 401 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("no key: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res := get(key); res.StatusCode != 200 {
		t.Fatalf("demo key: %d", res.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errb.String(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", errb.String())
	}
}

func TestIngestCommand(t *testing.T) {
	db := storetest.New(t)
	env := map[string]string{"DEALDESK_DATABASE_URL": db.URL, "DEALDESK_LOG_FORMAT": "text"}
	if code, _, stderr := run(t, env, "tenants", "create", "acme"); code != 0 {
		t.Fatal(stderr)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("policy/jiangsu.md", "---\nkind: policy\nregion: jiangsu\n---\n# 江苏省数字政府要点\n\n2025年底前完成政务数据共享平台升级。")
	write("meeting/notes.txt", "王总说要等财政拨款，预计三月到位。")
	write("tender/broken.pdf", "%PDF-1.4 nope")

	code, out, stderr := run(t, env, "ingest", "--tenant", "acme", "--root", dir, dir)
	if code != 1 || !strings.Contains(stderr, "1 of 3 files failed") {
		t.Fatalf("ingest: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"policy/jiangsu.md", "created v1", "meeting/notes.txt", "FAILED (corrupt_file)", "3 files: 2 created, 0 updated, 0 unchanged, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, out, stderr := run(t, env, "reindex", "--hnsw-m", "8", "--hnsw-ef-construction", "32"); code != 0 || !strings.Contains(out, "m=8 ef_construction=32") {
		t.Fatalf("reindex: %d %s %s", code, out, stderr)
	}
	code, out, stderr = run(t, env, "search", "--tenant", "acme", "--role", "rep", "--as-regions", "jiangsu", "财政拨款")
	if code != 0 || !strings.Contains(out, "meeting/notes.txt") || !strings.Contains(out, "hits (hybrid)") {
		t.Fatalf("search: %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = run(t, env, "ingest", "--tenant", "acme", "--root", dir, "--bulk", filepath.Join(dir, "policy"), filepath.Join(dir, "meeting", "*.txt"))
	if code != 0 || !strings.Contains(out, "2 files: 0 created, 0 updated, 2 unchanged") || !strings.Contains(out, "vector index rebuilt") {
		t.Fatalf("second ingest: exit %d\n%s", code, out)
	}
	if code, _, stderr := run(t, env, "ingest", "--tenant", "acme", filepath.Join(dir, "nothing-*.md")); code != 1 || !strings.Contains(stderr, "matches no file") {
		t.Fatalf("empty pattern: %d %s", code, stderr)
	}
}
