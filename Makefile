# privatelink-operator — developer entry points. The two a newcomer needs: `make demo`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CRD_FILE := crds/vpcendpointservices.privatelink.alicloud.dev.yaml

.PHONY: help build crds check-crds lint unit sdk-test test bench

help:
	@echo "make demo       build, start a local apiserver + simulator, run the operator, create an example"
	@echo "make test       every test: unit, CRD drift, simulator vs official SDK, deploy checks, e2e"
	@echo "make bench      benchmarks (simulator throughput, operator scale)"
	@echo "make testenv-up / testenv-down   local kube-apiserver + privatelink-sim on 127.0.0.1"
	@echo "make crds       regenerate $(CRD_FILE) from the Rust types"
	@echo "make lint       cargo fmt --check and clippy -D warnings"

build:
	cargo build --bins

# The CRD is generated from the Rust types; crds/ is committed.
crds:
	cargo run -q --bin privatelink-operator -- crd > $(CRD_FILE)

check-crds:
	@cargo run -q --bin privatelink-operator -- crd | diff -u $(CRD_FILE) - \
		|| { echo "crds/ is out of date: run 'make crds' and commit"; exit 1; }

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

# Unit tests and the simulator's HTTP tests (no apiserver needed).
unit:
	cargo test --lib --bins --test sim_api --test sim_bin

# The simulator checked by Alibaba's official Python SDK (pinned, in .venv).
sdk-test:
	scripts/test-sdk.sh

# Everything, as CI runs it. test-e2e brings the testenv up and down around the Rust test suites.
test: check-crds unit sdk-test check-deploy test-e2e

bench:
	scripts/bench.sh

-include Makefile.testenv
-include Makefile.deploy
-include Makefile.bench
