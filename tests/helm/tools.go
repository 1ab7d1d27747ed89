//go:build tools

// Package testhelm pins the command-line tools that scripts/build-helm.sh builds
// into target/testbin/. It is never compiled into anything else.
package testhelm

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
