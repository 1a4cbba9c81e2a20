# vigil: `make run` starts the platform with the demo; `make test` runs every test.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export VIGIL_CORPUS ?= $(abspath ../shared/corpus)

.PHONY: all build run deps test test-short bench fuzz clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/vigil ./cmd/vigil

# deps installs the system packages the platform and its tests use, when missing.
deps:
	@scripts/deps.sh

run: deps build
	./bin/vigil serve --demo --data $${VIGIL_DATA:-./data}

test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v /testdata/)); \
		if [ -n "$$unformatted" ]; then echo "gofmt has not been run on: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd bench/sigmago && $(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) test -count=1 -timeout 25m ./...

test-short:
	$(GO) test -short -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
