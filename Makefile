# The platform's commands (contract §1). Everything is built locally: no registry.
GO        ?= go
BIN       := bin
IMAGE     := faas-platform/faas:latest
EXAMPLES  := faas-examples/echo:latest
PDFPROC   := faas-examples/pdf-processor:latest
# Binaries are static (images are FROM scratch); only the race detector of
# `make test` needs cgo (and a C compiler: .ci/run installs gcc if missing).
export CGO_ENABLED := 0
RACE      := $(shell command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: all build binaries images examples run test vet fmt-check bench chaos clean

all: build

## build: the faas binary and the platform's own image (FROM scratch)
build: binaries images

binaries:
	$(GO) build -trimpath -o $(BIN)/faas ./cmd/faas
	$(GO) build -trimpath -ldflags=-s -o $(BIN)/faas-init ./cmd/faas-init

images: binaries
	docker build -q -t $(IMAGE) -f cmd/faas/Dockerfile $(BIN) >/dev/null
	@echo "built image $(IMAGE)"

## examples: the example function images used by the README walk-through
examples:
	$(GO) build -trimpath -o examples/echo/echo ./examples/echo
	docker build -q -t $(EXAMPLES) examples/echo >/dev/null
	$(GO) build -trimpath -o examples/pdf-processor/pdf-processor ./examples/pdf-processor
	docker build -q -t $(PDFPROC) examples/pdf-processor >/dev/null
	@echo "built images $(EXAMPLES) $(PDFPROC)"

## run: the whole platform on this machine (embedded NATS, gateway, autoscaled workers)
run: binaries
	./$(BIN)/faas up

## test: every test (unit, integration with real NATS and Docker, end to end)
test: fmt-check vet
	CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -count=1 -timeout 25m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: cold-start and warm figures (raw docker run vs the platform), printed
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./docker/ ./tests/

## chaos: the reliability soak (not in `make test`): CHAOS_N executions
## (default 10000) while workers are SIGKILLed every CHAOS_KILL_EVERY and
## NATS restarts once; prints accepted/complete/failed/dead-lettered/lost/
## run-twice counts and the longest wait
CHAOS_N ?= 10000
chaos:
	CHAOS_N=$(CHAOS_N) $(GO) test -v -tags chaos -count=1 -timeout 3h -run '^TestChaos$$' ./tests/ > chaos.log 2>&1; \
	  status=$$?; grep -E '^chaos:|^(ok|FAIL|---)|chaos_test.go' chaos.log; echo "(full log: chaos.log)"; exit $$status

## clean: build output, the platform's images and containers, ./data
clean:
	rm -rf $(BIN) data examples/echo/echo examples/pdf-processor/pdf-processor
	-docker ps -aq --filter label=faas.execution_id | xargs -r docker rm -f
	-docker ps -aq --filter label=faas.role=worker | xargs -r docker rm -f
	-docker images -q --filter reference='faas-platform/*' --filter reference='faas-examples/*' | xargs -r docker rmi -f
	-docker images -q --filter reference='faas-test/*' | xargs -r docker rmi -f
