#!/usr/bin/env bash
# Build a deploy tool pinned in tests/helm/go.mod into target/testbin/.
#
#   tests/scripts/build-helm.sh              helm        (helm.sh/helm/v4/cmd/helm)
#   tests/scripts/build-helm.sh kubeconform  kubeconform (github.com/yannh/kubeconform/cmd/kubeconform)
#   FORCE=1 tests/scripts/build-helm.sh ...  rebuild regardless of the stamp
#
# The tools come from the Go module proxy (no release downloads). A binary is
# rebuilt only when tests/helm/go.mod, tests/helm/go.sum or the Go toolchain
# change (stamp file target/testbin/.<tool>.stamp). Prints the binary's path.
set -euo pipefail

tool="${1:-helm}"
case "$tool" in
helm) module=helm.sh/helm/v4 pkg=helm.sh/helm/v4/cmd/helm ;;
kubeconform) module=github.com/yannh/kubeconform pkg=github.com/yannh/kubeconform/cmd/kubeconform ;;
*) echo "usage: $0 [helm|kubeconform]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mod="$root/tests/helm"
bindir="$root/target/testbin"
bin="$bindir/$tool"
stamp="$bindir/.$tool.stamp"

want="$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -d' ' -f1) $(go env GOVERSION)"
if [[ -z "${FORCE:-}" && -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$bindir"
cd "$mod"
version="$(go list -m -f '{{.Version}}' "$module")"
ldflags="-s -w"
if [[ "$tool" == helm ]]; then
	ldflags+=" -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
fi
echo "building $tool $version into $bin (helm's first build takes a few minutes)" >&2
start=$SECONDS
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$bin.tmp" "$pkg"
mv "$bin.tmp" "$bin"
printf '%s\n' "$want" >"$stamp"
echo "built $tool $version in $((SECONDS - start))s" >&2
echo "$bin"
