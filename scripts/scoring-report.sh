#!/usr/bin/env bash
# scoring-report.sh measures opportunity scoring on the real public data sets
# in ../shared/data (when present), through the product's own commands: a
# throw-away database and tenants, `dealdesk opportunities import` with the
# named mappings, `dealdesk scoring train`, which validates on a held-out
# split and fits the plain logistic baseline on the same split in the same
# run. Results (text and JSON per run, plus a summary) go to
# ${SCORING_OUT:-.bench/scoring}. Expects DEALDESK_TEST_DATABASE_URL (make
# bench sets it; or eval "$(scripts/pg.sh env)").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

data=${SCORING_DATA:-../shared/data}
if [[ ! -f $data/crm-opportunities/sales_pipeline.csv || ! -f $data/lead-scoring/Leads.csv ]]; then
	echo "scoring-report: $data has no crm-opportunities/ and lead-scoring/; skipped"
	exit 0
fi
out=${SCORING_OUT:-.bench/scoring}
mkdir -p "$out"
go build -o bin/dealdesk ./cmd/dealdesk

db=dealdesk_scoring_$$
base=${DEALDESK_TEST_DATABASE_URL%%\?*}
url="${base%/*}/$db?sslmode=disable"
cleanup() { psql -q "$DEALDESK_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -q "$DEALDESK_TEST_DATABASE_URL" -c "CREATE DATABASE $db TEMPLATE dealdesk_template"
dd() { DEALDESK_DATABASE_URL=$url bin/dealdesk "$@" --log-format text; }
dd migrate >/dev/null

# run NAME TENANT TRAIN_FLAGS...: train and keep the text and JSON report.
run() {
	local name=$1 tenant=$2
	shift 2
	echo "== $name" | tee "$out/$name.txt"
	dd scoring train --tenant "$tenant" "$@" | tee -a "$out/$name.txt"
	dd scoring report --tenant "$tenant" --json >"$out/$name.json"
}

dd tenants create crm >/dev/null
dd opportunities import --tenant crm --map crm-opportunities --no-retrain "$data/crm-opportunities/sales_pipeline.csv" | tee "$out/import-crm.txt"
run crm-time-close crm --split close_date
run crm-time-open crm --split open_date
run crm-random crm --split random

dd tenants create leads >/dev/null
dd opportunities import --tenant leads --map lead-scoring --no-retrain "$data/lead-scoring/Leads.csv" | tee "$out/import-leads.txt"
run leads-clean leads

dd tenants create leads-leaky >/dev/null
dd opportunities import --tenant leads-leaky --map lead-scoring --keep-post-outcome --no-retrain "$data/lead-scoring/Leads.csv" |
	tee "$out/import-leads-leaky.txt"
run leads-with-leaky-fields leads-leaky

python3 - "$out" <<'PY' | tee "$out/summary.md"
import json, sys, os
out = sys.argv[1]
print("| run | split | test n | model AUC | baseline AUC | model Brier | baseline Brier | model ECE | baseline ECE | beats baseline |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for name in ["crm-time-close", "crm-time-open", "crm-random", "leads-clean", "leads-with-leaky-fields"]:
    r = json.load(open(os.path.join(out, name + ".json")))["metrics"]
    m, b = r["model"], r["baseline"]
    beat = "yes" if m["auc"] > b["auc"] and m["brier"] < b["brier"] else "no"
    print(f"| {name} | {r['split']} | {m['n']} | {m['auc']:.4f} | {b['auc']:.4f} | {m['brier']:.4f} | {b['brier']:.4f} | {m['ece']:.4f} | {b['ece']:.4f} | {beat} |")
PY
