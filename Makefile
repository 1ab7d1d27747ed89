# privatelink-operator — developer entry points. The two a newcomer needs: `make demo`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CRD_FILE := crds/vpcendpointservices.privatelink.alicloud.dev.yaml
ENDPOINT_CRD_FILE := crds/vpcendpoints.privatelink.alicloud.dev.yaml

.PHONY: help build crds check-crds lint unit sdk-test test bench

help:
	@echo "make demo       build, start a local apiserver + simulator, run the operator, create an example"
	@echo "make test       every test: unit, CRD drift, simulator vs official SDK, deploy checks, image, e2e"
	@echo "make bench      benchmarks (simulator throughput, operator scale)"
	@echo "make testenv-up / testenv-down   local kube-apiserver + privatelink-sim on 127.0.0.1"
	@echo "make crds       regenerate crds/ (one file per kind) from the Rust types"
	@echo "make lint       cargo fmt --check and clippy -D warnings"
	@echo "make image      the container image as an OCI archive in target/image/ (no Docker needed)"

build:
	cargo build --bins

# The CRD is generated from the Rust types; crds/ is committed.
crds:
	cargo run -q --bin privatelink-operator -- crd VpcEndpointService > $(CRD_FILE)
	cargo run -q --bin privatelink-operator -- crd VpcEndpoint > $(ENDPOINT_CRD_FILE)

check-crds:
	@cargo run -q --bin privatelink-operator -- crd VpcEndpointService | diff -u $(CRD_FILE) - \
		|| { echo "crds/ is out of date: run 'make crds' and commit"; exit 1; }
	@cargo run -q --bin privatelink-operator -- crd VpcEndpoint | diff -u $(ENDPOINT_CRD_FILE) - \
		|| { echo "crds/ is out of date: run 'make crds' and commit"; exit 1; }

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

# Unit tests, and the simulator crate's own tests: unit, real HTTP, error-contract table, the binary.
unit:
	cargo test -p privatelink-operator --lib --bins
	cargo test -p privatelink-sim

# The simulator checked by Alibaba's official Python SDK (pinned, in .venv).
sdk-test:
	tests/scripts/test-sdk.sh

# Everything, as CI runs it. test-e2e brings the testenv up and down around the Rust test suites.
test: check-crds unit sdk-test check-deploy image-test test-e2e

bench:
	tests/scripts/bench.sh

# ---- Test environment ----
# A real kube-apiserver v1.34.4 (etcd embedded, built from Go modules) + privatelink-sim on 127.0.0.1.

.PHONY: apiserver testenv-up testenv-down testenv-restart-apiserver testenv-restart-sim demo e2e test-e2e

# Build target/testbin/testapiserver when tests/apiserver changed (first build: ~5-10 min).
apiserver:
	@tests/scripts/build-apiserver.sh

# Start apiserver + sim, install crds/ and deploy RBAC, write .testenv/env (idempotent).
testenv-up:
	@tests/scripts/testenv-up.sh

# Stop everything started by testenv-up and demo (by PID) and remove .testenv/.
testenv-down:
	@tests/scripts/testenv-down.sh

testenv-restart-apiserver:
	@tests/scripts/testenv-restart.sh apiserver

testenv-restart-sim:
	@tests/scripts/testenv-restart.sh sim

# One command: build, start the testenv, run the operator, apply the example, wait for Ready.
demo:
	@tests/scripts/demo.sh

# End-to-end tests against a running testenv (make testenv-up first). e2e_restart restarts the
# shared apiserver, so it runs after e2e and single-threaded.
e2e:
	cargo test --test e2e -- --test-threads=4
	cargo test --test e2e_restart -- --test-threads=1

# Self-contained: testenv up (if needed) -> e2e + e2e_restart -> down (if this started it). For CI.
test-e2e:
	@tests/scripts/run-e2e.sh

# The chaos proof against a running testenv (make testenv-up first); restarts the shared apiserver.
# CHAOS_SEED, CHAOS_RESOURCES (default 300), CHAOS_SECONDS: see tests/chaos/README.md. make test runs
# a short one (CHAOS_SEED=1, 30 objects) after the e2e suites (tests/scripts/run-e2e.sh).
.PHONY: chaos
chaos:
	cargo test --test chaos -- --nocapture --test-threads=1

# ---- Deployment artefacts (deploy/) ----
# Helm is built from Go modules (tests/helm/go.mod) into target/testbin/helm; no downloads
# besides the Go module proxy.

.PHONY: helm kubeconform manifests chart-docs check-deploy check-deploy-live

# Build target/testbin/helm when tests/helm/go.mod or go.sum changed (first build: ~2-4 min).
helm:
	@tests/scripts/build-helm.sh >/dev/null

# Regenerate deploy/manifests/privatelink-operator.yaml (helm template, default values),
# the chart's crds/ copy of crds/, deploy/argocd/argocd-cm-patch.yaml and the chart README.
manifests:
	@tests/scripts/check-deploy.sh render

# Regenerate the values table in deploy/helm/privatelink-operator/README.md from the
# values.yaml comments (helm-docs, built from Go modules into target/testbin).
chart-docs:
	@tests/scripts/check-deploy.sh docs

# helm lint --strict on every value variant, re-render and fail on drift (chart README too),
# chart invariants and Argo CD health tests (go test ./tests/helm), kubeconform -strict with
# offline schemas, then the live checks (check-deploy-live) on the testenv, which it brings up
# and down when none is running. CHECK_DEPLOY_LIVE=0 skips the live part.
check-deploy:
	@tests/scripts/check-deploy.sh

# Build target/testbin/kubeconform (schemas are generated by check-deploy).
kubeconform:
	@tests/scripts/build-helm.sh kubeconform >/dev/null

# Against a DISPOSABLE apiserver (the testenv): apply crds/, helm install/upgrade/uninstall,
# RBAC checks as the operator's ServiceAccount, server-side dry runs of deploy/manifests and
# deploy/examples. Needs CHECK_DEPLOY_KUBECONFIG, e.g. .testenv/admin.kubeconfig.
check-deploy-live:
	@CHECK_DEPLOY_KUBECONFIG="$${CHECK_DEPLOY_KUBECONFIG:-$(CURDIR)/.testenv/admin.kubeconfig}" tests/scripts/check-deploy.sh live

# ---- Container image ----
# The Dockerfile's image (distroless cc-debian12 + the release binary) built without a Docker
# daemon: Debian bookworm packages via apt-get download (cached in target/image/cache), layers and
# OCI layout written by tests/image/build.py -> target/image/privatelink-operator-<version>.oci.tar.
# image-test checks the layout and config and runs the binary from the image's own rootfs (chroot).

.PHONY: image image-test

image:
	cargo build --release --bin privatelink-operator
	@python3 tests/image/build.py

image-test: image
	@python3 tests/image/test-image.py

# ---- Benchmarks ---- `make bench` runs tests/scripts/bench.sh (method and results:
# tests/bench/README.md); these are shortcuts with its overrides.

.PHONY: bench-quick bench-burst bench-scale bench-summary

# Small sizes, short steady state: a few minutes; checks the harness end to end.
bench-quick:
	BENCH_QUICK=1 tests/scripts/bench.sh

# Only the 1,000-object burst (+ steady state), rate and concurrency scenarios.
bench-burst:
	BENCH_SCENARIOS="burst rate conc" tests/scripts/bench.sh

# Only the 10,000-object memory/steady-state scenario.
bench-scale:
	BENCH_SCENARIOS="scale" tests/scripts/bench.sh

# Re-print the table from target/bench/*.json.
bench-summary:
	@python3 tests/bench/summary.py target/bench
