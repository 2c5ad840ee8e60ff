# Developer shortcuts; every target runs a command the README names.
# The linters are pinned and installed into bin/ (git-ignored) when missing.

GOLANGCI_LINT_VERSION := v2.15.0
STATICCHECK_VERSION   := v0.8.2

BIN           := $(CURDIR)/bin
# The version is in the file name, so changing a pin installs the new one.
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
STATICCHECK   := $(BIN)/staticcheck-$(STATICCHECK_VERSION)

.PHONY: test test-short e2e lint fmt vet staticcheck generate build bench bench-serve

# Everything, with the real-server world (as root; without root the e2e tests skip).
test:
	bash e2e/test

# Unit tests only: no world, no slow inputs.
test-short:
	go test -short ./...

# Only the end-to-end tests against the real-server world (as root).
e2e:
	bash e2e/test ./e2e

build:
	go build ./...

# The check's benchmarks (README: "How long does a check wait?", "And ten thousand domains?").
bench:
	go test -run '^$$' -bench 'CheckOverlap' -benchtime 5x ./checks
	go test -run '^$$' -bench 'CheckMany' -benchtime 1x ./checks

# stspilot serve beside the world's nginx, same policy and certificate, loaded by wrk
# (README: "The built-in policy host"); as root, installs Debian's wrk when missing.
bench-serve:
	command -v wrk >/dev/null || apt-get install -y -q wrk
	STSPILOT_BENCH=1 STSPILOT_RACE=0 bash e2e/test -run TestServeVsNginx -v ./e2e

vet:
	go vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

# Format the tree as lint checks it (gofumpt, through golangci-lint).
fmt: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) fmt ./...

# Regenerate docs/providers.md and the golden files after a deliberate change.
generate:
	go generate ./...

$(GOLANGCI_LINT):
	GOBIN=$(BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

$(STATICCHECK):
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $@
