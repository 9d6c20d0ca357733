# tollgate — make targets. `make run` serves the example config; `make test`
# runs everything CI runs.
GO       ?= go
OPA      := $(GO) tool opa
BIN      := bin/tollgate
ADDR     ?= 127.0.0.1:8080
# /metrics is served only here, never on ADDR: it names every client.
METRICS_ADDR ?= 127.0.0.1:9090
NODE_DIR := interop/node

.PHONY: all build run test go-test policy-test interop-deps fmt lint check plan bench bench-go bench-load bundle clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/tollgate

run: build
	@echo "Demo secrets are in README.md (demo only). Once it listens, get a token with:"
	@echo "  curl -s -u client1:demo-client1-secret-not-for-production -d grant_type=client_credentials http://$(ADDR)/oauth2/token"
	@echo "  curl -s -H 'Content-Type: application/json' -d '{\"grant_type\":\"client_credentials\",\"client_id\":\"gift-deliveries\",\"client_secret\":\"demo-gift-deliveries-secret-not-for-production\",\"audience\":\"https://api.worldmappers.example\"}' http://$(ADDR)/oauth2/token"
	@echo "Metrics (not on the public address): curl -s http://$(METRICS_ADDR)/metrics"
	./$(BIN) serve --config config --policies policies --addr $(ADDR) --metrics-addr $(METRICS_ADDR)

# Everything CI runs: formatting and vet, the Rego tests, the Go tests
# (unit, end-to-end over loopback, and the Node.js interop test), with the
# race detector: the server is concurrent everywhere that matters.
test: lint policy-test interop-deps go-test

# TOLLGATE_REQUIRE_INTEROP=1: the interop tests (Node.js, Auth0's middlewares,
# the README's quickstart run with sh and curl) fail, rather than skip as they
# do under a bare `go test ./...`, when their tools or packages are missing.
# TOLLGATE_REQUIRE_REDIS=1 (as .ci/run sets it) fails the tests against a
# real redis-server when none is on PATH, instead of skipping them.
go-test:
	TOLLGATE_REQUIRE_INTEROP=1 TOLLGATE_REQUIRE_REDIS=$(TOLLGATE_REQUIRE_REDIS) $(GO) test -race -count=1 ./...

policy-test:
	$(OPA) fmt --fail --list policies/
	$(OPA) check --strict policies/
	$(OPA) test policies/ --coverage --threshold 90 --format json > /dev/null || \
		{ $(OPA) test policies/ -v; exit 1; }
	$(OPA) test policies/

interop-deps:
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error

fmt:
	gofmt -w $$(git ls-files '*.go')
	$(OPA) fmt -w policies/

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt: not formatted: $$unformatted"; exit 1; fi
	$(GO) vet ./...

check: build
	./$(BIN) check --config config --policies policies

# What the work tree does to the effective access, against BASE: a git
# revision (git:REF), a bundle file or a folder holding config/ and
# policies/. FORMAT=markdown gives what CI posts on a pull request.
BASE   ?= git:origin/main
FORMAT ?= text
plan: build
	./$(BIN) plan --base $(BASE) --config config --policies policies --format $(FORMAT)

bench: bench-go bench-load

# Go benchmarks of every stage (parse, authenticate, build input, decide,
# mint, the whole request in-process, load): BENCH_COUNT runs each, summed up
# by benchstat; the raw file is kept to compare against a later run with
# `go tool benchstat old.txt bench/out/go.txt`.
BENCH_COUNT ?= 3
bench-go:
	@mkdir -p bench/out
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./engine/... | tee bench/out/go.txt
	$(GO) tool benchstat bench/out/go.txt

# Loopback load with wrk (installed from Debian if missing) against
# tollgate and the bare baseline handler, then 10,000 clients.
bench-load: build
	$(GO) run ./bench/load

bundle: build
	@mkdir -p bundles
	./$(BIN) bundle build --config config --policies policies --out bundles/tollgate.tar.gz

clean:
	rm -rf bin bundles/*.tar.gz $(NODE_DIR)/node_modules
