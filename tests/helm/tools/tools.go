//go:build tools

// Package chartdocs pins the chart tools that tests/scripts/build-helm.sh builds
// into target/testbin/ from this module (kept apart from tests/helm/go.mod, whose
// Helm v4 and Kubernetes versions they would otherwise pull):
//
//   - helm-docs: the values table in deploy/helm/privatelink-operator/README.md
//     (make chart-docs);
//   - controller-gen: the ServiceMonitor/PodMonitor CRDs, generated from the
//     prometheus-operator API types below, from which check-deploy derives
//     kubeconform's schemas for the monitoring.coreos.com kinds.
package chartdocs

import (
	_ "github.com/norwoodj/helm-docs/cmd/helm-docs"
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
