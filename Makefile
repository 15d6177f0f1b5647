# relance — two commands on a fresh clone:
#   make demo   the whole pipeline embedded, on a generated year of data
#   make test   every test (installs libchdb first)
SHELL := bash
GO ?= go
LIBCHDB := $(CURDIR)/.cache/libchdb/libchdb.so
export CHDB_LIB_PATH := $(LIBCHDB)
# Test artifacts (report pages, browser screenshots) are kept here,
# git-ignored, for a look after the run.
export RELANCE_ARTIFACTS ?= $(CURDIR)/.artifacts
# Slow suites (crash loops, soak) run longer with RELANCE_LONG=1.
TESTFLAGS ?= -count=1 -timeout 25m

.PHONY: demo test bench build libchdb vet fmt clean

demo: libchdb
	$(GO) run ./cmd/relance demo $(DEMOFLAGS)

test: libchdb
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

bench: libchdb
	$(GO) test -run '^$$' -bench . -benchmem ./...

build:
	$(GO) build -o bin/relance ./cmd/relance

libchdb: $(LIBCHDB)
$(LIBCHDB): scripts/install-libchdb.sh
	scripts/install-libchdb.sh $(dir $(LIBCHDB))

clean:
	rm -rf bin data
