# Trellis: build, test, run, benchmark.
#
#   make run     install what is missing, build, start trellisd --dev
#   make test    install what is missing, check generated code and formatting, run every test
#
# Installing is fast when everything is present: each step checks before it acts.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

SWIFT ?= swift
PYTHON ?= python3
DATA ?= .trellis
LISTEN ?= 127.0.0.1:7443
AGENT_LISTEN ?= 127.0.0.1:7444

DEB_PACKAGES := pkg-config libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libssl-dev openssl \
	libyaml-dev libsqlite3-dev libpq-dev postgresql curl
PY_REQUIREMENTS := scripts/requirements.txt clients/python/requirements.txt

.PHONY: help deps deps-deb deps-py build build-release run test test-swift test-python lint format \
	gen gen-check bench-rpc bench-engine bench-agents clean

help:
	@echo "make run      build, start trellisd --dev (data in $(DATA), API on $(LISTEN)), apply examples/quickstart.yaml"
	@echo "make test     every check and test: generated code, lint, Swift tests, Python client tests"
	@echo "make bench-rpc   the RPC benchmark against gRPC C++"
	@echo "make bench-engine   the engine benchmark: planning and provisioning noop graphs"
	@echo "make bench-agents   the agents benchmark: 1,000 and 10,000 mutual-TLS agents against trellisd"
	@echo "make gen      regenerate protobuf code from proto/"
	@echo "make format   format Swift sources in place"

deps: deps-deb deps-py

deps-deb:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

deps-py:
	@if ! $(PYTHON) scripts/check-requirements $(PY_REQUIREMENTS) >/dev/null 2>&1; then \
		echo "installing Python packages from $(PY_REQUIREMENTS)"; \
		$(PYTHON) -m pip install -q --disable-pip-version-check $(foreach r,$(PY_REQUIREMENTS),-r $(r)); \
	fi

build: deps-deb
	$(SWIFT) build

build-release: deps-deb
	$(SWIFT) build -c release

run: deps build
	DATA=$(DATA) LISTEN=$(LISTEN) AGENT_LISTEN=$(AGENT_LISTEN) scripts/run-dev

test: deps gen-check lint test-swift test-python

# Swift Testing starts every test at once unless told otherwise; on two cores hundreds of
# tests polling side by side take twice the CPU and the wall time of eight at a time.
TEST_WIDTH ?= 8

test-swift: build
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$(TEST_WIDTH) $(SWIFT) test --parallel

test-python: build
	cd clients/python && ./gen.sh && TRELLISD=$(CURDIR)/.build/debug/trellisd $(PYTHON) -m pytest -q -p no:cacheprovider tests

# Generated code is left as scripts/gen-proto writes it.
SWIFT_SOURCES = $(shell find Sources Tests bench -name '*.swift' -not -path '*/Generated/*' -not -path '*/.build/*') Package.swift

lint:
	@echo "swift format lint --strict (Swift sources but generated code)"
	@$(SWIFT) format lint --strict --parallel $(SWIFT_SOURCES)

format:
	$(SWIFT) format --in-place --parallel $(SWIFT_SOURCES)

gen: deps
	scripts/gen-proto

gen-check: deps
	scripts/gen-proto --check

bench-rpc: deps
	bench/run-rpc

bench-engine: deps
	bench/run-engine

bench-agents: deps
	bench/run-agents

clean:
	rm -rf .build $(DATA)
