//go:build tools

// Package testhelm pins the command-line tools that tests/scripts/build-helm.sh builds
// into target/testbin/ (helm, kubeconform). It is never compiled into anything else.
package testhelm

import (
	_ "github.com/yannh/kubeconform/cmd/kubeconform"
	_ "helm.sh/helm/v4/cmd/helm"
)
