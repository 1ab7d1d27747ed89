#!/usr/bin/env bash
# Build a deploy tool pinned in tests/helm/go.mod into target/testbin/.
#
#   tests/scripts/build-helm.sh              helm        (helm.sh/helm/v4/cmd/helm)
#   tests/scripts/build-helm.sh kubeconform  kubeconform (github.com/yannh/kubeconform/cmd/kubeconform)
#   tests/scripts/build-helm.sh helm-docs    helm-docs (github.com/norwoodj/helm-docs/cmd/helm-docs)
#   tests/scripts/build-helm.sh controller-gen  controller-gen (sigs.k8s.io/controller-tools/cmd/controller-gen)
#     (these two are pinned in their own module, tests/helm/tools/go.mod)
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
helm-docs) moddir=tests/helm/tools module=github.com/norwoodj/helm-docs pkg=github.com/norwoodj/helm-docs/cmd/helm-docs ;;
controller-gen) moddir=tests/helm/tools module=sigs.k8s.io/controller-tools pkg=sigs.k8s.io/controller-tools/cmd/controller-gen ;;
*) echo "usage: $0 [helm|kubeconform|helm-docs|controller-gen]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mod="$root/${moddir:-tests/helm}"
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
