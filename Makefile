# enrollhook. `make run` tries it offline; `make test` is what CI runs.
SHELL      := /usr/bin/env bash
GO         ?= go
BIN        := $(CURDIR)/bin
RIE        := $(BIN)/aws-lambda-rie
RIE_MODULE := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
# lambda.norpc drops the legacy go1.x RPC runtime; validator_novalidatefn
# drops validator's reflection by method name: a call of MethodByName with a
# name known only at run time makes the linker keep every exported method
# of every type that reaches an interface.
TAGS       := lambda.norpc,validator_novalidatefn
LDFLAGS    := -s -w
BOOTSTRAP  := build/webhook/bootstrap
WORKER     := build/worker/bootstrap
EVENTS     := build/events/bootstrap
# functions/local: the local server, send, sign and check; never deployed.
LOCAL      := build/local/enrollhook
FUZZTIME   ?= 20s
# dynalite: a DynamoDB-compatible server on Node.js, for the de-duplication
# store's tests; installed from npm into build/tools.
DYNALITE_VERSION := 4.0.0
DYNALITE   := $(CURDIR)/build/tools/node_modules/dynalite/cli.js
# staticcheck, pinned, from the Go module proxy into bin/ like the runtime
# emulator; 2026.2.2 (v0.8.2) builds with Go 1.26 and knows its language.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck
# benchstat (golang.org/x/perf), pinned, from the Go module proxy into bin/:
# `make bench` runs the two request-path budgets ten times and has it print
# the median and its spread, since one run on a shared 2-core machine
# varies by a third.
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
BENCHSTAT := $(BIN)/benchstat
# cfn-lint (1.x, with the AWS SAM translator it depends on) lints
# template.yaml. It is a Python tool, installed on the machine (CI's too),
# not by make; pkg/config's tests use its SAM translator as well.
CFNLINT    ?= cfn-lint
# Redocly CLI (recommended rules) and Spectral (spectral:oas) lint the
# OpenAPI document; pinned, installed from npm into build/tools like
# dynalite (Redocly 2.77 runs on Node.js 20.19 and later).
REDOCLY_VERSION  := 2.77.0
SPECTRAL_VERSION := 6.16.3
OPENAPI_LINT := $(CURDIR)/build/tools/openapi-lint
OPENAPI_LINT_STAMP := $(OPENAPI_LINT)/.installed-$(REDOCLY_VERSION)-$(SPECTRAL_VERSION)

.PHONY: all build build-WebhookFunction build-worker build-WorkerFunction build-events build-EventsFunction run local test rie dynalite staticcheck bench fuzz lint openapi-lint clean check

all: build

## build: the stripped linux/arm64 bootstrap in build/webhook/
build:
	mkdir -p $(dir $(BOOTSTRAP))
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags $(TAGS) -trimpath -ldflags='$(LDFLAGS)' -o $(BOOTSTRAP) ./functions/webhook
	@ls -l $(BOOTSTRAP) | awk '{printf "bootstrap: %.1f MiB (%d bytes)\n", $$5/1048576, $$5}'

## build-WebhookFunction: what `sam build` calls (BuildMethod: makefile)
build-WebhookFunction: build
	cp $(BOOTSTRAP) $(ARTIFACTS_DIR)/bootstrap

## build-worker: the worker's stripped linux/arm64 bootstrap in build/worker/
build-worker:
	mkdir -p $(dir $(WORKER))
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags $(TAGS) -trimpath -ldflags='$(LDFLAGS)' -o $(WORKER) ./functions/worker
	@ls -l $(WORKER) | awk '{printf "worker bootstrap: %.1f MiB (%d bytes)\n", $$5/1048576, $$5}'

## build-WorkerFunction: what `sam build` calls for the worker
build-WorkerFunction: build-worker
	cp $(WORKER) $(ARTIFACTS_DIR)/bootstrap

## build-events: the events function's stripped linux/arm64 bootstrap in build/events/
build-events:
	mkdir -p $(dir $(EVENTS))
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags $(TAGS) -trimpath -ldflags='$(LDFLAGS)' -o $(EVENTS) ./functions/events
	@ls -l $(EVENTS) | awk '{printf "events bootstrap: %.1f MiB (%d bytes)\n", $$5/1048576, $$5}'

## build-EventsFunction: what `sam build` calls for the events function
build-EventsFunction: build-events
	cp $(EVENTS) $(ARTIFACTS_DIR)/bootstrap

## run: the function on 127.0.0.1:8080 against the embedded Graph emulator
## (functions/local, built into build/local and exec'd, so that Ctrl-C or
## SIGTERM reaches it and stops everything)
run: local
	exec $(LOCAL) serve -emulator

## local: functions/local for this machine, in build/local/
local:
	@echo "building functions/local into $(LOCAL) (the first build compiles every dependency) ..."
	@mkdir -p $(dir $(LOCAL))
	$(GO) build -o $(LOCAL) ./functions/local

## rie: the Lambda runtime interface emulator, pinned, from the module proxy
rie: $(RIE)
$(RIE):
	mkdir -p $(BIN)
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install $(RIE_MODULE)@$(RIE_VERSION)

## dynalite: the DynamoDB-compatible server the store's tests start
dynalite: $(DYNALITE)
$(DYNALITE):
	mkdir -p build/tools
	npm install --prefix build/tools --no-audit --no-fund --loglevel=error dynalite@$(DYNALITE_VERSION)

## test: every test, including the real bootstrap under the runtime emulator,
## the DynamoDB store against dynalite, and the template's roles after the
## SAM transform (cfn-lint's translator, on python3 or ENROLLHOOK_PYTHON)
test: rie dynalite
	ENROLLHOOK_RIE=$(RIE) ENROLLHOOK_REQUIRE_RIE=1 \
	ENROLLHOOK_DYNALITE=$(DYNALITE) ENROLLHOOK_REQUIRE_DYNALITE=1 \
	ENROLLHOOK_REQUIRE_CFNLINT=1 \
	$(GO) test -race -count=1 ./...

## bench: request-path benchmarks, the store's overhead, the burst's
## throughput, the bootstraps' sizes and the cold start
bench: rie dynalite build build-worker build-events $(BENCHSTAT)
	ENROLLHOOK_RIE=$(RIE) ENROLLHOOK_DYNALITE=$(DYNALITE) $(GO) test -p 1 -run '^$$' -bench . -benchmem -count=1 ./...
	@echo "request-path budgets, 10 runs each (median ± 95% confidence interval):"
	@$(GO) test -run '^$$' -bench '^Benchmark(RequestPath|RefusedSignature)$$' -benchmem -count=10 ./pkg/webhook > build/bench-budgets.txt || (cat build/bench-budgets.txt; false)
	@$(BENCHSTAT) build/bench-budgets.txt
	@ls -l $(BOOTSTRAP) | awk '{printf "bootstrap (linux/arm64, stripped): %.1f MiB (%d bytes)\n", $$5/1048576, $$5}'
	@ls -l $(WORKER) | awk '{printf "worker bootstrap (linux/arm64, stripped): %.1f MiB (%d bytes)\n", $$5/1048576, $$5}'
	@ls -l $(EVENTS) | awk '{printf "events bootstrap (linux/arm64, stripped): %.1f MiB (%d bytes)\n", $$5/1048576, $$5}'

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	  done; done

$(BENCHSTAT):
	mkdir -p $(BIN)
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

## staticcheck: the Go linter, pinned, from the module proxy
staticcheck: $(STATICCHECK)
$(STATICCHECK):
	mkdir -p $(BIN)
	GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## lint: gofmt, go vet, staticcheck (default checks) and cfn-lint on
## template.yaml, no rule of them turned off; Redocly (recommended, warnings
## fail) and Spectral (spectral:oas, warnings fail) on the OpenAPI document,
## one rule each turned off (.redocly.yaml, .spectral.yaml say which and why)
lint: staticcheck openapi-lint
	test -z "$$(gofmt -l .)" || (gofmt -l . && false)
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@command -v $(CFNLINT) >/dev/null || { echo "cfn-lint not found: install it (pip install cfn-lint), or pass CFNLINT=/path/to/cfn-lint"; exit 1; }
	@$(CFNLINT) --version
	$(CFNLINT) template.yaml
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(OPENAPI_LINT)/node_modules/.bin/redocly lint --config .redocly.yaml pkg/webhook/openapi.yaml
	$(OPENAPI_LINT)/node_modules/.bin/spectral lint --fail-severity=warn --ruleset .spectral.yaml pkg/webhook/openapi.yaml

## openapi-lint: Redocly CLI and Spectral, pinned, from npm
openapi-lint: $(OPENAPI_LINT_STAMP)
$(OPENAPI_LINT_STAMP):
	mkdir -p $(OPENAPI_LINT)
	npm install --prefix $(OPENAPI_LINT) --no-audit --no-fund --loglevel=error --save-exact @redocly/cli@$(REDOCLY_VERSION) @stoplight/spectral-cli@$(SPECTRAL_VERSION)
	touch $@

clean:
	rm -rf build bin .aws-sam

## check: preflight of a deployed configuration (credential, token, Graph, permission)
## with this shell's environment; CONFIGURATION is an enrollment configuration id to read
check:
	@if [ -z '$(CONFIGURATION)' ]; then \
	  echo "make check needs the id of an enrollment configuration whose assignments it reads:"; \
	  echo "  make check CONFIGURATION=<id>   (GET /deviceManagement/deviceEnrollmentConfigurations lists them)"; \
	  echo "or, to try it against the embedded Graph emulator:  go run ./functions/local check -emulator"; \
	  exit 2; fi
	@$(MAKE) --no-print-directory local
	exec $(LOCAL) check -configuration '$(CONFIGURATION)'
