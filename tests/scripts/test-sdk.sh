#!/usr/bin/env bash
# Build privatelink-sim, ensure the pinned SDK venv, run the Python SDK conformance tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cargo build --bin privatelink-sim
tests/scripts/sdk-venv.sh
export PRIVATELINK_SIM_BIN="${PRIVATELINK_SIM_BIN:-$root/target/debug/privatelink-sim}"
exec "${SDK_VENV:-$root/.venv}/bin/python" -m pytest tests/sdk -q "$@"
