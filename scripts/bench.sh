#!/usr/bin/env bash
# bench.sh is `make bench`: Go benchmarks for every package, then load tests
# against a real server on the loopback address. Results go to
# .bench/<timestamp>/ (and .bench/latest). Expects DEALDESK_DATABASE_URL
# (make bench sets it). BENCHTIME, LOAD_SECONDS, BENCH_CHUNKS (retrieval
# corpus, default 1,000,000; about 40 minutes) and INGEST_MB (memory test,
# default 200) shorten or lengthen runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=.bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
ln -sfn "$(basename "$out")" .bench/latest
benchtime=${BENCHTIME:-1s}
load_seconds=${LOAD_SECONDS:-10}

echo "bench: Go benchmarks (benchtime $benchtime) -> $out/go-bench.txt"
# BENCH_CHUNKS sizes the retrieval corpus of BenchmarkSearchAtScale (0 skips it).
DEALDESK_BENCH_CHUNKS=${BENCH_CHUNKS:-1000000} DEALDESK_BENCH_OUT="$PWD/$out/search-at-scale.json" \
	go test -run '^$' -bench . -benchmem -benchtime "$benchtime" -timeout 150m ./... | tee "$out/go-bench.txt"

echo "bench: load tests against a real server -> $out/load.jsonl"
go build -o bin/dealdesk ./cmd/dealdesk
go build -o bin/loadgen ./cmd/loadgen
key=$(bin/dealdesk demo --log-format text --key-file .data/bench-admin.key 2>/dev/null)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
DEALDESK_RATE_LIMIT=1000000 DEALDESK_RATE_BURST=1000000 bin/dealdesk serve --addr "127.0.0.1:$port" --log-level warn >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
base="http://127.0.0.1:$port"
load() { bin/loadgen -json "$out/load.jsonl" -d "${load_seconds}s" "$@"; }
load -name "GET /healthz" -c 32 -url "$base/healthz"
load -name "GET /v1/me (auth + db)" -c 32 -url "$base/v1/me" -H "Authorization: Bearer $key"
# The labelled demo queries as search requests, one client at a time, to
# compare with BenchmarkSearchDemo (the same searches in process).
python3 -c '
import json, re, sys
for line in open("retrieval/testdata/relevance.yaml", encoding="utf-8"):
    m = re.match(r"\s+query: \"(.*)\"\s*$", line)
    if m:
        print(json.dumps({"query": m.group(1), "k": 10}, ensure_ascii=False))
' >"$out/search-bodies.jsonl"
load -name "POST /v1/search c=1" -c 1 -method POST -bodies "$out/search-bodies.jsonl" -url "$base/v1/search" \
	-H "Authorization: Bearer $key" -H "Content-Type: application/json"
load -name "POST /v1/search c=8" -c 8 -method POST -bodies "$out/search-bodies.jsonl" -url "$base/v1/search" \
	-H "Authorization: Bearer $key" -H "Content-Type: application/json"
# Ratios against baselines measured in this same run.
python3 - "$out/load.jsonl" "$out/go-bench.txt" <<'PY' | tee "$out/summary.txt"
import json, re, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
base, auth = rows["GET /healthz"], rows["GET /v1/me (auth + db)"]
print(f"auth overhead: p50 {auth['p50_ms']:.2f} ms vs {base['p50_ms']:.2f} ms bare; "
      f"throughput ratio {auth['rps']/base['rps']:.2f}x of bare")
inproc = None
for line in open(sys.argv[2]):
    m = re.match(r"BenchmarkSearchDemo-\d+\s+\d+\s+([\d.]+) ns/op", line)
    if m:
        inproc = float(m.group(1)) / 1e6
http = rows["POST /v1/search c=1"]
if inproc:
    print(f"search over HTTP: mean {http['mean_ms']:.2f} ms (p50 {http['p50_ms']:.2f}, p99 {http['p99_ms']:.2f}) "
          f"vs {inproc:.2f} ms in process: {http['mean_ms']/inproc:.2f}x")
PY

# Peak memory of a large import: a generated folder (INGEST_MB, default
# 200 MB) ingested with --bulk into a throw-away database.
ingest_mb=${INGEST_MB:-200}
if ((ingest_mb > 0)); then
	corpus=$(mktemp -d)
	benchdb=dealdesk_bench_$$
	base=${DEALDESK_DATABASE_URL%%\?*}
	bench_url="${base%/*}/$benchdb?sslmode=disable"
	cleanup_memory() {
		rm -rf "$corpus"
		psql -q "$DEALDESK_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $benchdb WITH (FORCE)" >/dev/null 2>&1 || true
	}
	trap 'cleanup_memory; kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
	go run ./cmd/gencorpus -dir "$corpus" -mb "$ingest_mb"
	psql -q "$DEALDESK_TEST_DATABASE_URL" -c "CREATE DATABASE $benchdb TEMPLATE dealdesk_template"
	DEALDESK_DATABASE_URL=$bench_url bin/dealdesk migrate --log-format text >/dev/null
	DEALDESK_DATABASE_URL=$bench_url bin/dealdesk tenants create bench --log-format text >/dev/null
	echo "bench: ingesting $ingest_mb MB with --bulk -> $out/ingest-memory.txt"
	DEALDESK_DATABASE_URL=$bench_url bin/dealdesk ingest --log-format text --tenant bench --bulk --quiet --root "$corpus" "$corpus" |
		tee "$out/ingest-memory.txt"
	cleanup_memory
fi
echo "bench: done; results in $out"
