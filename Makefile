# kiln's build, test and set-up targets. Everything a fresh Debian 12 machine needs
# for the tests is installed by these targets, never by hand.

GO ?= go
BIN := bin/kiln

.PHONY: all setup deps build test unit e2e bench fuzz hostile example render-examples

all: build

## setup: install what the tools and tests need (Debian packages, Docker engine, kind cluster).
setup: deps cluster

## deps: Debian packages the build itself needs.
deps:
	@command -v git >/dev/null || (apt-get update && apt-get install -y git)

## build: kiln, statically linked (CGO_ENABLED=0): one binary that also runs inside
## containers, as the supervisor of restart_container().
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/kiln

## unit: evaluation, rendering and golden tests, and the package tests that use the Docker
## engine and the cluster. Run alone, those skip when the engine or cluster is missing; under
## `make test` (KILN_REQUIRE_DOCKER=1) they fail instead, so a broken set-up cannot pass.
unit:
	$(GO) test ./...

## fuzz: a short run of every fuzz target. An execution count, not a duration: Go 1.26's fuzz
## coordinator can fail a duration run with a bare "context deadline exceeded" when the time
## is up while a worker is busy (golang/go#75804, fixed in Go 1.27); a count has no deadline.
## FuzzEvaluate and FuzzConfigParse run whole evaluations (a temp project each, about 1,000 a
## second), so they get a smaller count; so does FuzzRewriteFrom, which still finds edge cases
## of escapes and non-text bytes after a few 100k executions (each kept as a seed once fixed).
FUZZTIME ?= 100000x
EVAL_FUZZTIME ?= 20000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeObjects$$' -fuzztime $(FUZZTIME) ./builtins/k8syaml
	$(GO) test -run '^$$' -fuzz '^FuzzInject$$' -fuzztime $(FUZZTIME) ./builtins/inject
	$(GO) test -run '^$$' -fuzz '^FuzzJSONPath$$' -fuzztime $(FUZZTIME) ./builtins/inject
	$(GO) test -run '^$$' -fuzz '^FuzzEvaluate$$' -fuzztime $(EVAL_FUZZTIME) ./builtins
	$(GO) test -run '^$$' -fuzz '^FuzzPortForwards$$' -fuzztime $(FUZZTIME) ./builtins
	$(GO) test -run '^$$' -fuzz '^FuzzConfigParse$$' -fuzztime $(EVAL_FUZZTIME) ./builtins
	$(GO) test -run '^$$' -fuzz '^FuzzRewriteFrom$$' -fuzztime $(EVAL_FUZZTIME) ./runtime/dockerfile

## hostile: the built kiln on Kilnfiles written to hang it, exhaust its memory or crash it
## (test/hostile/cases/): each must fail with exit 1 and an error naming file:line, within
## a time and a memory bound, without a Go panic. No Docker or cluster needed.
hostile: build
	KILN_BIN=$(CURDIR)/$(BIN) $(GO) test -tags hostile -count=1 ./test/hostile

## e2e: end-to-end tests against the real kind cluster (made by `make cluster`).
## KILN_E2E_BUILDKITD is the standalone buildkitd that the KILN_BUILDKIT_HOST test starts.
e2e: cluster buildkitd
	KILN_E2E_BUILDKITD=$$(bash test/cluster/buildkitd.sh) \
	  $(GO) test -tags e2e -count=1 -timeout 30m ./test/e2e/...

## test: everything CI runs. The cluster comes first, so that the unit tests that use the
## Docker engine (builds, image save/load) run for real instead of skipping. The e2e tests
## run kiln built with the race detector (KILN_E2E_RACE): a data race fails them.
test: export KILN_REQUIRE_DOCKER := 1
test: export KILN_E2E_RACE := 1
test: cluster unit fuzz hostile render-examples e2e

## bench: Go benchmarks: evaluation + render of a 200-service project, context hashing,
## build skips, and `kiln run` on an unchanged project against the real cluster.
bench: cluster
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) test -tags e2e -run '^$$' -bench . -benchtime 10x ./test/e2e/...

## example: the main job: run the example Go service on the kind cluster, until it is ready.
example: build cluster
	./$(BIN) run -f examples/go-service --context kind-kiln-e2e

## render-examples: render every example twice and check the output is identical.
render-examples: build
	@set -e; tmp=$$(mktemp -d); for d in examples/*/; do \
	  ./$(BIN) render -f $$d > $$tmp/1; ./$(BIN) render -f $$d > $$tmp/2; \
	  cmp $$tmp/1 $$tmp/2; echo "rendered $$d"; \
	done; rm -rf $$tmp

include test/cluster/cluster.mk
