#!/usr/bin/env bash
# run.sh is `make run`: set up PostgreSQL + pgvector and the private cluster
# when missing, migrate, create the demo tenant and key, load the demo
# knowledge base, and serve the API until Ctrl-C, which also stops the
# cluster it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# With DEALDESK_DATABASE_URL set, that database is used and left running.
started_cluster=1
[[ -z ${DEALDESK_DATABASE_URL:-} ]] || started_cluster=""
scripts/pg.sh up
eval "$(scripts/pg.sh env)"

go build -o bin/dealdesk ./cmd/dealdesk
key=$(bin/dealdesk demo --log-format text)

addr=${DEALDESK_ADDR:-:8080}
port=${addr##*:}
cat <<MSG

  DealDesk is starting on http://localhost:${port} (provider: ${DEALDESK_MODEL_PROVIDER:-offline})
  Demo admin API key: ${key}

    curl -s localhost:${port}/readyz
    curl -s -H "Authorization: Bearer ${key}" localhost:${port}/v1/me

  Ctrl-C stops the server and the database cluster.

MSG

stop_cluster() {
	if [[ -n $started_cluster ]]; then
		scripts/pg.sh down || true
	fi
}
trap stop_cluster EXIT
# In the foreground, so Ctrl-C reaches the server, which shuts down
# gracefully before the trap stops the cluster.
bin/dealdesk serve --log-format "${DEALDESK_LOG_FORMAT:-text}"
