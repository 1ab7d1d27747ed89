package testhelm

// Chart invariants, checked on `helm template` output for the default values
// and each deploy/helm/privatelink-operator/ci/*-values.yaml variant. Needs the
// Helm binary: $HELM, else ../../target/testbin/helm (make helm); skipped when
// neither exists so `go test` alone still runs the Lua tests.

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "../../deploy/helm/privatelink-operator"
	namespace = "privatelink-system"
	crdName   = "vpcendpointservices.privatelink.alicloud.dev"
)

type obj = map[string]any

func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h, _ := filepath.Abs("../../target/testbin/helm")
	if _, err := os.Stat(h); err != nil {
		t.Skip("no helm binary: run make helm or set HELM")
	}
	return h
}

func helmTemplate(t *testing.T, args ...string) ([]obj, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), append([]string{"template", "privatelink-operator", chartDir,
		"--namespace", namespace, "--include-crds"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &helmError{err, stderr.String()}
	}
	return splitDocs(t, out), nil
}

type helmError struct {
	err    error
	stderr string
}

func (e *helmError) Error() string { return e.err.Error() + ": " + e.stderr }

func render(t *testing.T, args ...string) []obj {
	t.Helper()
	objs, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func splitDocs(t *testing.T, raw []byte) []obj {
	t.Helper()
	var objs []obj
	for _, doc := range strings.Split("\n"+string(raw), "\n---") {
		var o obj
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
	return objs
}

// get walks a path of map keys and list indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func find(objs []obj, kind string) []obj {
	var out []obj
	for _, o := range objs {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, objs []obj, kind string) obj {
	t.Helper()
	f := find(objs, kind)
	if len(f) != 1 {
		t.Fatalf("want exactly one %s, got %d", kind, len(f))
	}
	return f[0]
}

func kinds(objs []obj) []string {
	var k []string
	for _, o := range objs {
		k = append(k, o["kind"].(string))
	}
	slices.Sort(k)
	return k
}

// norm round-trips through JSON so literals compare equal to decoded YAML.
func norm(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := norm(t, got), norm(t, want); !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", "  ")
		wj, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

func container(t *testing.T, objs []obj) obj {
	t.Helper()
	c, ok := get(one(t, objs, "Deployment"), "spec", "template", "spec", "containers", 0).(obj)
	if !ok {
		t.Fatal("Deployment has no container")
	}
	return c
}

func args(t *testing.T, objs []obj) []string {
	t.Helper()
	var out []string
	for _, a := range container(t, objs)["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

func envByName(t *testing.T, objs []obj) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, e := range container(t, objs)["env"].([]any) {
		out[e.(obj)["name"].(string)] = e
	}
	return out
}

type rule struct {
	APIGroups     []string `json:"apiGroups"`
	Resources     []string `json:"resources"`
	ResourceNames []string `json:"resourceNames,omitempty"`
	Verbs         []string `json:"verbs"`
}

var baseRules = []rule{
	{APIGroups: []string{"privatelink.alicloud.dev"}, Resources: []string{"vpcendpointservices"},
		Verbs: []string{"get", "list", "watch", "patch", "update"}},
	{APIGroups: []string{"privatelink.alicloud.dev"}, Resources: []string{"vpcendpointservices/status"},
		Verbs: []string{"get", "patch", "update"}},
	{APIGroups: []string{"privatelink.alicloud.dev"}, Resources: []string{"vpcendpointservices/finalizers"},
		Verbs: []string{"update"}},
	{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"},
		ResourceNames: []string{crdName}, Verbs: []string{"get"}},
}

var secretRule = rule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "patch"}}

// commonChecks hold for every variant.
func commonChecks(t *testing.T, objs []obj) {
	t.Helper()
	for _, o := range objs {
		kind := o["kind"].(string)
		switch kind {
		case "Namespace":
			t.Error("the chart must not create a Namespace")
		case "Secret":
			t.Error("the chart must not create Secrets")
		case "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
			if get(o, "metadata", "namespace") != nil {
				t.Errorf("cluster-scoped %s has a namespace", kind)
			}
		case "Role", "RoleBinding":
			if get(o, "metadata", "namespace") == nil {
				t.Errorf("%s %v has no namespace", kind, get(o, "metadata", "name"))
			}
		default:
			if ns := get(o, "metadata", "namespace"); ns != namespace {
				t.Errorf("%s in namespace %v, want %s", kind, ns, namespace)
			}
		}
		// No wildcard RBAC anywhere.
		if kind == "ClusterRole" || kind == "Role" {
			for _, r := range o["rules"].([]any) {
				for _, f := range []string{"apiGroups", "resources", "verbs"} {
					if slices.Contains(r.(obj)[f].([]any), "*") {
						t.Errorf("%s has a wildcard in %s", kind, f)
					}
				}
			}
		}
	}

	// The CRD is the generated one, byte for byte after parsing.
	crd := one(t, objs, "CustomResourceDefinition")
	raw, err := os.ReadFile("../../crds/" + crdName + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want obj
	if err := yaml.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	eq(t, "CRD", crd, want)

	d := one(t, objs, "Deployment")
	pod := get(d, "spec", "template", "spec").(obj)
	c := container(t, objs)
	eq(t, "pod securityContext", pod["securityContext"], obj{
		"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
		"seccompProfile": obj{"type": "RuntimeDefault"},
	})
	eq(t, "container securityContext", c["securityContext"], obj{
		"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
		"runAsUser": 65532, "capabilities": obj{"drop": []string{"ALL"}},
		"seccompProfile": obj{"type": "RuntimeDefault"},
	})
	eq(t, "resources", c["resources"], obj{
		"requests": obj{"cpu": "50m", "memory": "64Mi"},
		"limits":   obj{"cpu": "200m", "memory": "256Mi"},
	})
	eq(t, "ports", c["ports"], []obj{{"name": "http", "containerPort": 8080, "protocol": "TCP"}})
	eq(t, "liveness path", get(c, "livenessProbe", "httpGet"), obj{"path": "/healthz", "port": "http"})
	eq(t, "readiness path", get(c, "readinessProbe", "httpGet"), obj{"path": "/readyz", "port": "http"})
	if pod["terminationGracePeriodSeconds"] == nil {
		t.Error("terminationGracePeriodSeconds not set")
	}
	a := args(t, objs)
	if a[0] != "run" || !slices.Contains(a, "--http-addr=0.0.0.0:8080") {
		t.Errorf("args %v: want run ... --http-addr=0.0.0.0:8080", a)
	}
	env := envByName(t, objs)
	eq(t, "POD_NAME", env["POD_NAME"], obj{"name": "POD_NAME",
		"valueFrom": obj{"fieldRef": obj{"fieldPath": "metadata.name"}}})
	for name, e := range env {
		if strings.HasPrefix(name, "ALIBABA_CLOUD_") && get(e, "value") != nil {
			t.Errorf("%s has a literal value; credentials must come from a Secret", name)
		}
	}

	// The ServiceAccount the pod runs as is the one bound to the ClusterRole.
	sa := pod["serviceAccountName"]
	crb := one(t, objs, "ClusterRoleBinding")
	eq(t, "ClusterRoleBinding subjects", crb["subjects"],
		[]obj{{"kind": "ServiceAccount", "name": sa, "namespace": namespace}})
	eq(t, "ClusterRoleBinding roleRef name", get(crb, "roleRef", "name"),
		get(one(t, objs, "ClusterRole"), "metadata", "name"))

	svc := one(t, objs, "Service")
	eq(t, "Service selector", get(svc, "spec", "selector"), get(d, "spec", "selector", "matchLabels"))
	eq(t, "Service ports", get(svc, "spec", "ports"),
		[]obj{{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}})
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	readYAML(t, filepath.Join(chartDir, "Chart.yaml"), &c)
	return c.AppVersion
}

func TestChartDefaults(t *testing.T) {
	objs := render(t)
	commonChecks(t, objs)
	eq(t, "kinds", kinds(objs), []string{"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
		"Deployment", "NetworkPolicy", "Service", "ServiceAccount"})
	eq(t, "ClusterRole rules", one(t, objs, "ClusterRole")["rules"], append(slices.Clone(baseRules), secretRule))

	d := one(t, objs, "Deployment")
	eq(t, "replicas", get(d, "spec", "replicas"), 1)
	eq(t, "strategy", get(d, "spec", "strategy"), obj{"type": "RollingUpdate",
		"rollingUpdate": obj{"maxSurge": 0, "maxUnavailable": 1}})
	c := container(t, objs)
	eq(t, "image", c["image"], "ghcr.io/privatelink-operator/privatelink-operator:"+chartAppVersion(t))
	eq(t, "args", args(t, objs), []string{"run", "--concurrency=8", "--resync-seconds=600",
		"--terminal-retry-seconds=1800", "--qps=20", "--burst=40", "--request-timeout-seconds=15",
		"--http-addr=0.0.0.0:8080", "--log-format=json"})
	eq(t, "env names", slices.Sorted(func(yield func(string) bool) {
		for k := range envByName(t, objs) {
			if !yield(k) {
				return
			}
		}
	}), []string{"POD_NAME", "POD_NAMESPACE"})
	sa := one(t, objs, "ServiceAccount")
	eq(t, "ServiceAccount name", get(sa, "metadata", "name"), "privatelink-operator")
	if get(sa, "metadata", "annotations") != nil {
		t.Error("default ServiceAccount should have no annotations")
	}

	np := one(t, objs, "NetworkPolicy")
	eq(t, "NetworkPolicy policyTypes", get(np, "spec", "policyTypes"), []string{"Ingress", "Egress"})
	var egressPorts []float64
	for _, r := range get(np, "spec", "egress").([]any) {
		for _, p := range r.(obj)["ports"].([]any) {
			egressPorts = append(egressPorts, p.(obj)["port"].(float64))
		}
	}
	slices.Sort(egressPorts)
	eq(t, "egress ports", slices.Compact(egressPorts), []float64{53, 443, 6443})
}

func TestChartSecretNamespaces(t *testing.T) {
	objs := render(t, "-f", filepath.Join(chartDir, "ci/secret-namespaces-values.yaml"))
	commonChecks(t, objs)
	eq(t, "ClusterRole rules without secrets", one(t, objs, "ClusterRole")["rules"], baseRules)
	roles := find(objs, "Role")
	bindings := find(objs, "RoleBinding")
	var nss []string
	for _, r := range roles {
		nss = append(nss, get(r, "metadata", "namespace").(string))
		eq(t, "secret Role rules", r["rules"], []rule{secretRule})
	}
	eq(t, "secret Role namespaces", nss, []string{"team-a", "team-b"})
	if len(bindings) != 2 {
		t.Fatalf("want 2 RoleBindings, got %d", len(bindings))
	}
	for _, b := range bindings {
		eq(t, "RoleBinding subject", b["subjects"], []obj{{"kind": "ServiceAccount",
			"name": "privatelink-operator", "namespace": namespace}})
	}
	if !slices.Contains(args(t, objs), "--namespace=team-a") {
		t.Errorf("args %v: want --namespace=team-a", args(t, objs))
	}
}

func TestChartLeaderElection(t *testing.T) {
	objs := render(t, "-f", filepath.Join(chartDir, "ci/leader-election-values.yaml"))
	commonChecks(t, objs)
	eq(t, "ClusterRole rules", one(t, objs, "ClusterRole")["rules"], append(slices.Clone(baseRules), secretRule))
	role := one(t, objs, "Role")
	eq(t, "lease Role namespace", get(role, "metadata", "namespace"), namespace)
	eq(t, "lease Role rules", role["rules"], []rule{{APIGroups: []string{"coordination.k8s.io"},
		Resources: []string{"leases"}, Verbs: []string{"get", "create", "update", "patch"}}})
	one(t, objs, "RoleBinding")
	d := one(t, objs, "Deployment")
	eq(t, "replicas", get(d, "spec", "replicas"), 2)
	eq(t, "strategy", get(d, "spec", "strategy"), obj{"type": "RollingUpdate",
		"rollingUpdate": obj{"maxSurge": 1, "maxUnavailable": 0}})
	if !slices.Contains(args(t, objs), "--leader-election") {
		t.Errorf("args %v: want --leader-election", args(t, objs))
	}
	pdb := one(t, objs, "PodDisruptionBudget")
	eq(t, "PDB spec", pdb["spec"], obj{"minAvailable": 1,
		"selector": obj{"matchLabels": get(d, "spec", "selector", "matchLabels")}})
}

func TestChartServiceMonitor(t *testing.T) {
	objs := render(t, "-f", filepath.Join(chartDir, "ci/service-monitor-values.yaml"))
	commonChecks(t, objs)
	sm := one(t, objs, "ServiceMonitor")
	eq(t, "ServiceMonitor endpoint port", get(sm, "spec", "endpoints", 0, "port"), "http")
	eq(t, "ServiceMonitor path", get(sm, "spec", "endpoints", 0, "path"), "/metrics")
	eq(t, "ServiceMonitor label", get(sm, "metadata", "labels", "release"), "kube-prometheus-stack")
	eq(t, "ServiceMonitor selector", get(sm, "spec", "selector", "matchLabels"),
		get(one(t, objs, "Service"), "spec", "selector"))
	np := one(t, objs, "NetworkPolicy")
	eq(t, "ingress from", get(np, "spec", "ingress", 0, "from"), []obj{{"namespaceSelector": obj{
		"matchLabels": obj{"kubernetes.io/metadata.name": "monitoring"}}}})
	eq(t, "apiserver egress to", get(np, "spec", "egress", 1, "to"), []obj{{"ipBlock": obj{"cidr": "10.0.0.1/32"}}})
}

func TestChartCredentials(t *testing.T) {
	objs := render(t, "-f", filepath.Join(chartDir, "ci/credentials-values.yaml"))
	commonChecks(t, objs)
	if len(find(objs, "NetworkPolicy")) != 0 {
		t.Error("networkPolicy.enabled=false still renders a NetworkPolicy")
	}
	env := envByName(t, objs)
	ref := func(key string, optional bool) obj {
		r := obj{"name": "alicloud-credentials", "key": key}
		if optional {
			r["optional"] = true
		}
		return obj{"secretKeyRef": r}
	}
	eq(t, "key id env", get(env["ALIBABA_CLOUD_ACCESS_KEY_ID"], "valueFrom"), ref("accessKeyId", false))
	eq(t, "key secret env", get(env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], "valueFrom"), ref("accessKeySecret", false))
	eq(t, "token env", get(env["ALIBABA_CLOUD_SECURITY_TOKEN"], "valueFrom"), ref("securityToken", true))
	eq(t, "RUST_LOG", get(env["RUST_LOG"], "value"), "info,privatelink_operator=debug")

	sa := one(t, objs, "ServiceAccount")
	eq(t, "ServiceAccount name", get(sa, "metadata", "name"), "plo")
	eq(t, "ServiceAccount annotations", get(sa, "metadata", "annotations"), obj{
		"pod-identity.alibabacloud.com/role-name": "privatelink-operator",
		"example.com/owner":                       "platform",
	})
	d := one(t, objs, "Deployment")
	eq(t, "pod serviceAccountName", get(d, "spec", "template", "spec", "serviceAccountName"), "plo")
	eq(t, "pod label", get(d, "spec", "template", "metadata", "labels", "team"), "platform")
	eq(t, "pod annotation", get(d, "spec", "template", "metadata", "annotations", "example.com/scrape"), "true")
	eq(t, "nodeSelector", get(d, "spec", "template", "spec", "nodeSelector"), obj{"kubernetes.io/os": "linux"})
	eq(t, "image", container(t, objs)["image"],
		"ghcr.io/privatelink-operator/privatelink-operator@sha256:"+strings.Repeat("0", 64))
	a := args(t, objs)
	for _, want := range []string{"--endpoint=https://privatelink-vpc.{region}.aliyuncs.com", "--log-format=text"} {
		if !slices.Contains(a, want) {
			t.Errorf("args %v: want %s", a, want)
		}
	}
}

func TestChartRejectsUnsafeValues(t *testing.T) {
	for name, set := range map[string][]string{
		"two replicas without leader election": {"--set", "replicaCount=2"},
		"PDB with both bounds":                 {"--set", "podDisruptionBudget.enabled=true,podDisruptionBudget.minAvailable=1"},
		"existing ServiceAccount without name": {"--set", "serviceAccount.create=false"},
		"misspelt value (schema)":              {"--set", "leaderElection.enable=true"},
		"bad log format (schema)":              {"--set", "operator.logFormat=yaml"},
		"non-numeric concurrency (schema)":     {"--set", "operator.concurrency=eight"},
		"invalid namespace name (schema)":      {"--set", "rbac.secretNamespaces={Team_A}"},
		"empty alicloudCIDRs (schema)":         {"--set", "networkPolicy.alicloudCIDRs=null"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := helmTemplate(t, set...); err == nil {
				t.Errorf("helm template %v succeeded, want an error", set)
			}
		})
	}
}

func TestPlainManifestsAreDefaultRender(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/manifests/privatelink-operator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "deploy/manifests/privatelink-operator.yaml (run make manifests)", splitDocs(t, raw), render(t))
}

// operatorFlags reads the long flags of `privatelink-operator run` from the
// clap definitions in src/bin/privatelink-operator.rs (field after #[arg(long ...)]).
func operatorFlags(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("../../src/bin/privatelink-operator.rs")
	if err != nil {
		t.Skipf("no operator source: %v", err)
	}
	flags := map[string]bool{}
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "#[arg(") || !strings.Contains(l, "long") {
			continue
		}
		for _, next := range lines[i+1:] {
			next = strings.TrimSpace(next)
			if next == "" || strings.HasPrefix(next, "#[") || strings.HasPrefix(next, "//") {
				continue
			}
			name, _, ok := strings.Cut(strings.TrimPrefix(next, "pub "), ":")
			if ok {
				flags["--"+strings.ReplaceAll(strings.TrimSpace(name), "_", "-")] = true
			}
			break
		}
	}
	if len(flags) == 0 {
		t.Fatal("found no #[arg(long)] fields in src/bin/privatelink-operator.rs")
	}
	return flags
}

// Every flag the chart passes must exist in the operator's CLI, or the pod
// crash-loops on "unexpected argument".
func TestArgsMatchOperatorCLI(t *testing.T) {
	flags := operatorFlags(t)
	variants := []string{""}
	ci, _ := filepath.Glob(filepath.Join(chartDir, "ci/*-values.yaml"))
	variants = append(variants, ci...)
	for _, v := range variants {
		var opts []string
		if v != "" {
			opts = []string{"-f", v}
		}
		for _, a := range args(t, render(t, opts...))[1:] {
			flag, _, _ := strings.Cut(a, "=")
			if flags[flag] {
				continue
			}
			t.Errorf("%s: chart passes %s, which privatelink-operator run does not accept (flags: %v)",
				filepath.Base(v), flag, slices.Sorted(maps.Keys(flags)))
		}
	}
}
