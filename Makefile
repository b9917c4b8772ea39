# Keepalive. `make run` serves the site (SQLite, demo Lightning, no setup);
# `make test` runs every test, the real-Lightning ones included.

GO        ?= go
BIN_CACHE ?= $(HOME)/.cache/keepalive/bin
LND_TAGS  := signrpc walletrpc chainrpc invoicesrpc routerrpc peersrpc integration
# The regtest binaries are rebuilt when the module graph changes.
BIN_STAMP := $(BIN_CACHE)/.built-$(shell sha256sum go.sum | cut -c1-16)
BUILD     := CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w"

.PHONY: run test build generate check-generated lint regtest regtest-bins bench clean

run:
	@echo "Building Keepalive. The first build on a machine compiles the Lightning client"
	@echo "libraries (lnd's lnrpc and routerrpc) and takes a few minutes; later builds take seconds."
	$(BUILD) -o bin/keepalive .
	@echo "Built. Starting the site (SQLite, simulated Lightning) on http://$${KEEPALIVE_ADDR:-127.0.0.1:8080}/"
	./bin/keepalive serve

build:
	$(BUILD) -o bin/keepalive .

test: regtest-bins
	KEEPALIVE_REGTEST=1 KEEPALIVE_REGTEST_BIN=$(BIN_CACHE) $(GO) test -count=1 -timeout 40m ./...
	$(GO) test -race -count=1 -short ./internal/ledger/ ./internal/offering/ ./internal/money/ ./internal/funding/ ./internal/db/

generate:
	$(GO) tool templ generate

# Fails when the committed templ output differs from what the sources make.
check-generated:
	$(GO) tool templ generate
	git diff --exit-code -- '*_templ.go' || (echo "templ output is stale: run make generate and commit" >&2; exit 1)
	test -z "$$(git status --porcelain -- '*_templ.go')" || (echo "templ made new files: run make generate and commit" >&2; exit 1)

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$'))" || (gofmt -l . ; exit 1)
	$(GO) vet ./...

# btcd, lnd and lncli for the regtest network, built from this module's
# own graph into a cache folder outside the repository.
regtest-bins: $(BIN_STAMP)

$(BIN_STAMP): go.sum
	mkdir -p $(BIN_CACHE)
	$(GO) build -tags="$(LND_TAGS)" -o $(BIN_CACHE)/ github.com/lightningnetwork/lnd/cmd/lnd github.com/lightningnetwork/lnd/cmd/lncli
	$(GO) build -o $(BIN_CACHE)/ github.com/btcsuite/btcd github.com/btcsuite/btcd/cmd/btcctl
	rm -f $(BIN_CACHE)/.built-* && touch $@

# The site on a real local Lightning network: btcd + two lnd nodes.
regtest: regtest-bins
	KEEPALIVE_REGTEST_BIN=$(BIN_CACHE) $(GO) run ./internal/lightning/regtest/regtestnet -dir data/regtest -run-site

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

clean:
	rm -rf bin
