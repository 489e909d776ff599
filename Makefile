# wasmdbg: build, test and measure. `make help` lists the targets.
GO      ?= go
BIN     := bin
FUZZTIME ?= 10s

.PHONY: help build test demo bench fuzz fixtures lint clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

build: ## build bin/wasmdbg and its kubectl plugin name bin/kubectl-wasmdbg
	$(GO) build -o $(BIN)/wasmdbg ./cmd/wasmdbg
	ln -sf wasmdbg $(BIN)/kubectl-wasmdbg

test: ## run every test (tools the tests compare against are used when installed)
	$(GO) test ./...

demo: build ## the main job on embedded defaults
	$(BIN)/wasmdbg demo

bench: build ## Go benchmarks, then each side-by-side comparison in scripts/bench
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@for s in scripts/bench/*.sh; do [ -f "$$s" ] || continue; echo "== $$s"; sh "$$s" || exit 1; done

fuzz: ## run every fuzz target for FUZZTIME (default 10s)
	sh scripts/fuzz.sh $(FUZZTIME)

fixtures: ## rebuild every fixture plugin from source (needs the toolchains)
	sh fixtures/build.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
