#!/usr/bin/env bash
# Create (or reuse) .venv with the pinned official Alibaba Cloud Python SDK for tests/sdk.
# Idempotent: reinstalls only when tests/sdk/requirements.txt changes (sha256 stamp in the venv).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${SDK_VENV:-$root/.venv}"
req="$root/tests/sdk/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "sdk-venv: installed $(basename "$req") into $venv" >&2
