# flowlake: make run (demo on an embedded Kafka broker), make test (everything).
GO        ?= go
BIN       := $(CURDIR)/bin
VERSITYGW := $(BIN)/versitygw
HELM      := $(BIN)/helm
PKGS      := ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X flowlake/stages/encode.Version=$(VERSION)

.PHONY: all build run test test-unit test-race vet fmt-check bench bench-e2e fuzz clean tools

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/flowlake ./cmd/flowlake

# The demo: an in-process Kafka-protocol broker (kfake) fed by flowlake's own
# generator, consumed by the real pipeline into ./data in AWS's Hive layout.
# ./data is recreated: its checkpoints belong to the previous demo broker.
run: build
	rm -rf ./data
	$(BIN)/flowlake demo --sink file://./data --exit-when-idle 3s
	@echo
	$(BIN)/flowlake inspect ./data

# Versity Gateway: the S3-compatible server the S3 tests run against.
$(VERSITYGW):
	GOBIN=$(BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0

# Helm: the chart tests render the chart with the real helm template.
$(HELM):
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@v3.22.0

tools: $(VERSITYGW) $(HELM)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every test: unit, fuzz seeds, Kafka (kfake over TCP) and S3 (versitygw)
# end-to-end and failure tests.
test: tools vet fmt-check
	$(GO) test -count=1 -timeout 25m $(PKGS)

test-race: tools
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

bench: tools
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./schema/ ./stages/... ./pipeline/...

fuzz:
	$(GO) test ./schema/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s
	$(GO) test ./stages/parse/ -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 60s
	$(GO) test ./schema/ -run '^$$' -fuzz '^FuzzParseHeader$$' -fuzztime 60s
	$(GO) test ./schema/ -run '^$$' -fuzz '^FuzzParseFormat$$' -fuzztime 60s

clean:
	rm -rf ./data $(BIN)/flowlake

# flowlake as a user runs it: the release binary, cold, a broker in another
# process, 1M records (BENCH_RECORDS=5000000 for the 5M variant) at 1 and
# 100 records per message, enrichment on, to a clean exit. Not part of test.
bench-e2e: build
	$(GO) build -o $(BIN)/benche2e ./internal/benche2e
	$(BIN)/benche2e -bin $(BIN)/flowlake $(BENCH_ARGS)
