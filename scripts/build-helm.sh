#!/usr/bin/env bash
# Build the Helm CLI pinned in tests/helm/go.mod into target/testbin/helm.
#
# Helm comes from the Go module proxy (no release tarball download). The
# binary is rebuilt only when tests/helm/go.mod, tests/helm/go.sum or the Go
# toolchain change (stamp file target/testbin/.helm.stamp).
#
# Usage: scripts/build-helm.sh         # prints the path of the binary
#        FORCE=1 scripts/build-helm.sh # rebuild regardless of the stamp
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mod="$root/tests/helm"
bindir="$root/target/testbin"
bin="$bindir/helm"
stamp="$bindir/.helm.stamp"

want="$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -d' ' -f1) $(go env GOVERSION)"
if [[ -z "${FORCE:-}" && -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$bindir"
cd "$mod"
version="$(go list -m -f '{{.Version}}' helm.sh/helm/v4)"
echo "building helm $version into $bin (first build takes several minutes)" >&2
start=$SECONDS
CGO_ENABLED=0 go build -mod=readonly -trimpath \
	-ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
	-o "$bin.tmp" helm.sh/helm/v4/cmd/helm
mv "$bin.tmp" "$bin"
printf '%s\n' "$want" >"$stamp"
echo "built helm $version in $((SECONDS - start))s" >&2
echo "$bin"
