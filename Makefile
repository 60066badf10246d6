# The platform's commands (contract §1). Everything is built locally: no registry.
GO        ?= go
BIN       := bin
IMAGE     := faas-platform/faas:latest
NATS_IMAGE := faas-platform/nats:latest
EXAMPLES  := faas-examples/echo:latest
PDFPROC   := faas-examples/pdf-processor:latest
# Binaries are static (images are FROM scratch); only the race detector of
# `make test` needs cgo (and a C compiler: .ci/run installs gcc if missing).
export CGO_ENABLED := 0
RACE      := $(shell command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: all build binaries images examples run test vet fmt-check bench chaos clean \
	compose-secrets compose-up compose-down compose-test compose-config

all: build

## build: the faas binary, nats-server, and the platform's images (FROM scratch)
build: binaries images

binaries:
	$(GO) build -trimpath -o $(BIN)/faas ./cmd/faas
	$(GO) build -trimpath -ldflags=-s -o $(BIN)/faas-init ./cmd/faas-init
	$(GO) build -trimpath -o $(BIN)/nats-server github.com/nats-io/nats-server/v2

images: binaries
	docker build -q -t $(IMAGE) -f cmd/faas/Dockerfile $(BIN) >/dev/null
	@echo "built image $(IMAGE)"
	cp $(BIN)/nats-server compose/nats/nats-server
	docker build -q -t $(NATS_IMAGE) compose/nats >/dev/null; status=$$?; rm -f compose/nats/nats-server; exit $$status
	@echo "built image $(NATS_IMAGE)"

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
## bench: cold-start figures (raw docker run vs the platform) and R1 vs R3
## (executions per second, sync p50 on one server and on a 3-node cluster), printed
bench:
	$(GO) test -run '^$$' -bench . -skip ColdBurst -benchtime 20x ./docker/ ./tests/
	$(GO) test -run '^$$' -bench ColdBurst -benchtime 1x ./tests/

## chaos: the reliability soak (not in `make test`): CHAOS_N executions
## (default 10000) while workers are SIGKILLed every CHAOS_KILL_EVERY and
## NATS restarts once; prints accepted/complete/failed/dead-lettered/lost/
## run-twice counts and the longest wait
CHAOS_N ?= 10000
chaos:
	CHAOS_N=$(CHAOS_N) $(GO) test -v -tags chaos -count=1 -timeout 3h -run '^TestChaos$$' ./tests/ > chaos.log 2>&1; \
	  status=$$?; grep -E '^chaos:|^(ok|FAIL|---)|chaos_test.go' chaos.log; echo "(full log: chaos.log)"; exit $$status

## compose: the whole platform under docker compose (compose/docker-compose.yml):
## a 3-node NATS cluster, the gateway, the autoscaler with worker containers.
## COMPOSE is docker-compose (1.29) when installed, else `docker compose` (v2).
COMPOSE_PROJECT_NAME ?= faas
export COMPOSE_PROJECT_NAME
COMPOSE   ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)
COMPOSE_FILE_ARGS := -f compose/docker-compose.yml
SECRETS   := compose/secrets.env

## compose-secrets: JWT_SECRET and the NATS credentials, generated once (0600, not in git)
compose-secrets: $(SECRETS)
$(SECRETS):
	@umask 077; { \
	  echo "JWT_SECRET=$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"; \
	  echo "NATS_USER=faas"; \
	  echo "NATS_PASSWORD=$$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"; \
	} > $@.tmp && mv $@.tmp $@
	@echo "generated $@ (mode 0600)"

## compose-up: build the images, then start the deployment (API on :8080)
compose-up: build compose-secrets
	$(COMPOSE) $(COMPOSE_FILE_ARGS) up -d
	@echo "faas is starting: API on http://localhost:$${FAAS_PORT:-8080}/api/v1 (docker compose, project $(COMPOSE_PROJECT_NAME))"

## compose-down: stop everything, worker containers included, and remove the
## workers' host directory; volumes stay (DOWN_FLAGS=-v removes them too)
compose-down:
	-$(COMPOSE) $(COMPOSE_FILE_ARGS) stop autoscaler
	-docker ps -q --filter label=faas.role=worker --filter network=$(COMPOSE_PROJECT_NAME)_backplane | xargs -r docker stop -t 30
	-docker ps -aq --filter label=faas.role=worker --filter network=$(COMPOSE_PROJECT_NAME)_backplane | xargs -r docker rm -f
	$(COMPOSE) $(COMPOSE_FILE_ARGS) --profile apisix --profile monitoring down --remove-orphans $(DOWN_FLAGS)
	-rm -rf /tmp/faas-$(COMPOSE_PROJECT_NAME)-run

## compose-config: the compose file is valid for every profile
compose-config: compose-secrets
	$(COMPOSE) $(COMPOSE_FILE_ARGS) config -q
	$(COMPOSE) $(COMPOSE_FILE_ARGS) --profile apisix config -q
	$(COMPOSE) $(COMPOSE_FILE_ARGS) --profile monitoring config -q

## compose-test: build, up (without APISIX), register, run a function sync
## and async through the compose gateway, scale under load, down -v: nothing left
compose-test: build compose-secrets
	CGO_ENABLED=0 $(GO) test -v -tags compose -count=1 -timeout 20m -run '^TestCompose$$' ./tests/

## clean: build output, the platform's images and containers, ./data
clean:
	rm -rf $(BIN) data examples/echo/echo examples/pdf-processor/pdf-processor
	-docker ps -aq --filter label=faas.execution_id | xargs -r docker rm -f
	-docker ps -aq --filter label=faas.role=worker | xargs -r docker rm -f
	-docker images -q --filter reference='faas-platform/*' --filter reference='faas-examples/*' | xargs -r docker rmi -f
	-docker images -q --filter reference='faas-test/*' | xargs -r docker rmi -f
