# DealDesk: `make run` serves the API with a demo knowledge base on :8080;
# `make test` runs every test against a real PostgreSQL + pgvector.
# Both set up what is missing (PostgreSQL, pgvector, a private cluster).

SHELL := /bin/bash
GO ?= go
BIN := bin/dealdesk
PG := scripts/pg.sh
# Loads DEALDESK_DATABASE_URL / DEALDESK_TEST_DATABASE_URL for the private
# cluster (or keeps an external DEALDESK_DATABASE_URL).
WITH_DB = $(PG) up && eval "$$($(PG) env)" &&

.PHONY: run test bench scoring-report lint build db-up db-down db-status clean clean-db help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## set up everything, load the demo, serve the API on :8080 until Ctrl-C
	@scripts/run.sh

test: ## set up the database, then go vet and go test -race ./...
	@$(WITH_DB) $(GO) vet ./... && $(GO) test -race -count=1 -timeout 20m ./...

bench: ## run Go benchmarks and load tools; results go to .bench/
	@$(WITH_DB) scripts/bench.sh

scoring-report: ## scoring model vs baseline on ../shared/data (when present) -> .bench/scoring/
	@$(WITH_DB) scripts/scoring-report.sh

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

build: ## build bin/dealdesk
	$(GO) build -o $(BIN) ./cmd/dealdesk

db-up: ## start the private PostgreSQL cluster
	@$(PG) up
db-down: ## stop it
	@$(PG) down
db-status: ## show its state
	@$(PG) status
clean-db: ## stop the cluster and delete its data
	@$(PG) destroy
clean: ## remove build and benchmark output
	rm -rf bin .bench
