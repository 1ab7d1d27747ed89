package testhelm

// The GitOps examples in deploy/flux and deploy/argocd parse and keep the
// settings the docs promise (CRD upgrades, server-side apply).

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func readDocs(t *testing.T, path string) []obj {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs := splitDocs(t, raw)
	for _, d := range docs {
		if d["apiVersion"] == nil || d["kind"] == nil || get(d, "metadata", "name") == nil {
			t.Errorf("%s: document without apiVersion/kind/metadata.name", path)
		}
	}
	return docs
}

func TestFluxHelmRelease(t *testing.T) {
	hr := one(t, readDocs(t, "../../deploy/flux/helmrelease.yaml"), "HelmRelease")
	eq(t, "install.crds", get(hr, "spec", "install", "crds"), "CreateReplace")
	eq(t, "upgrade.crds", get(hr, "spec", "upgrade", "crds"), "CreateReplace")
	eq(t, "chart path", get(hr, "spec", "chart", "spec", "chart"), "./deploy/helm/privatelink-operator")
	eq(t, "targetNamespace", get(hr, "spec", "targetNamespace"), namespace)
	one(t, readDocs(t, "../../deploy/flux/gitrepository.yaml"), "GitRepository")
	ks := find(readDocs(t, "../../deploy/flux/flux-kustomization.yaml"), "Kustomization")
	if len(ks) != 2 || get(ks[0], "spec", "path") != "./deploy/manifests" {
		t.Fatalf("flux-kustomization.yaml: want 2 Kustomizations, the first for ./deploy/manifests")
	}
	// Every CRD (VpcEndpointService and VpcEndpoint) is patched not to be pruned.
	for _, name := range []string{crdName, endpointCrdName} {
		found := false
		for _, p := range get(ks[0], "spec", "patches").([]any) {
			patch, _ := get(p, "patch").(string)
			if get(p, "target", "kind") == "CustomResourceDefinition" && get(p, "target", "name") == name &&
				strings.Contains(patch, "name: "+name+"\n") &&
				strings.Contains(patch, "kustomize.toolkit.fluxcd.io/prune: disabled") {
				found = true
			}
		}
		if !found {
			t.Errorf("the manifests Kustomization must keep Flux from pruning the CRD %s", name)
		}
	}
}

func TestArgoCDApplication(t *testing.T) {
	app := one(t, readDocs(t, "../../deploy/argocd/application.yaml"), "Application")
	opts := get(app, "spec", "syncPolicy", "syncOptions").([]any)
	if !slices.Contains(opts, any("ServerSideApply=true")) {
		t.Errorf("syncOptions %v: want ServerSideApply=true", opts)
	}
	eq(t, "source path", get(app, "spec", "source", "path"), "deploy/helm/privatelink-operator")
	if get(app, "metadata", "finalizers") != nil {
		t.Error("no resources-finalizer: deleting the Application would cascade to the CRD")
	}
	eq(t, "destination namespace", get(app, "spec", "destination", "namespace"), namespace)
}

func TestNamespaceManifest(t *testing.T) {
	ns := one(t, readDocs(t, "../../deploy/manifests/namespace.yaml"), "Namespace")
	eq(t, "name", get(ns, "metadata", "name"), namespace)
	eq(t, "PSS enforce", get(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce"), "restricted")
}
