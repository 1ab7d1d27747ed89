package testhelm

// Runs deploy/argocd/health.lua the way Argo CD does (gopher-lua, the object
// as the global `obj`, the returned table read as {status, message}) against
// the cases in deploy/argocd/health_test.yaml, and checks that
// deploy/argocd/argocd-cm-patch.yaml carries the same script for every kind
// with a CRD in crds/ (VpcEndpointService, VpcEndpoint), and that the cases
// cover every such kind.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const argoDir = "../../deploy/argocd"

// healthKey is the argocd-cm key of a kind's health check.
func healthKey(group, kind string) string {
	return "resource.customizations.health." + group + "_" + kind
}

type crdKind struct{ Group, Kind string }

// crdKinds lists group and kind of every CRD in crds/ (one file per kind).
func crdKinds(t *testing.T) []crdKind {
	t.Helper()
	files, err := filepath.Glob("../../crds/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in crds/: %v", err)
	}
	var out []crdKind
	for _, f := range files {
		var crd struct {
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
			} `json:"spec"`
		}
		readYAML(t, f, &crd)
		if crd.Spec.Group == "" || crd.Spec.Names.Kind == "" {
			t.Fatalf("%s: no spec.group or spec.names.kind", f)
		}
		out = append(out, crdKind{crd.Spec.Group, crd.Spec.Names.Kind})
	}
	return out
}

type healthCase struct {
	HealthStatus struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"healthStatus"`
	InputPath string `json:"inputPath"`
}

// toLua converts decoded JSON into Lua values, as Argo CD's lua.objectToTable does.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for i, e := range v {
			t.RawSetInt(i+1, toLua(l, e))
		}
		return t
	default:
		panic("unexpected JSON type")
	}
}

func runHealth(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	// Argo CD opens only these standard libraries.
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.fn), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			t.Fatal(err)
		}
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		t.Fatalf("lua error: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %s, want a table", l.Get(-1).Type())
	}
	return lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(js, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestArgoCDHealth(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(argoDir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Tests []healthCase `json:"tests"`
	}
	readYAML(t, filepath.Join(argoDir, "health_test.yaml"), &spec)
	if len(spec.Tests) == 0 {
		t.Fatal("no cases in health_test.yaml")
	}
	// Kind -> the health statuses its cases expect.
	covered := map[string][]string{}
	for _, tc := range spec.Tests {
		var obj map[string]any
		readYAML(t, filepath.Join(argoDir, tc.InputPath), &obj)
		kind, _ := obj["kind"].(string)
		covered[kind] = append(covered[kind], tc.HealthStatus.Status)
		t.Run(filepath.Base(tc.InputPath), func(t *testing.T) {
			status, message := runHealth(t, string(script), obj)
			if status != tc.HealthStatus.Status || message != tc.HealthStatus.Message {
				t.Errorf("got (%q, %q), want (%q, %q)", status, message,
					tc.HealthStatus.Status, tc.HealthStatus.Message)
			}
		})
	}
	// Every kind with a CRD has Healthy, Progressing and Degraded cases.
	for _, k := range crdKinds(t) {
		for _, want := range []string{"Healthy", "Progressing", "Degraded"} {
			if !slices.Contains(covered[k.Kind], want) {
				t.Errorf("health_test.yaml: no %s case for kind %s", want, k.Kind)
			}
		}
	}
}

func TestArgoCDPatchMatchesScript(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(argoDir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	readYAML(t, filepath.Join(argoDir, "argocd-cm-patch.yaml"), &cm)
	if cm.Kind != "ConfigMap" {
		t.Fatalf("argocd-cm-patch.yaml kind %q, want ConfigMap", cm.Kind)
	}
	kinds := crdKinds(t)
	for _, k := range kinds {
		key := healthKey(k.Group, k.Kind)
		got, ok := cm.Data[key]
		if !ok {
			t.Errorf("argocd-cm-patch.yaml has no %s (kind %s); add it to argo_kinds in tests/scripts/check-deploy.sh", key, k.Kind)
		} else if got != string(script) {
			t.Errorf("argocd-cm-patch.yaml %s differs from health.lua; run `make manifests`", key)
		}
	}
	if len(cm.Data) != len(kinds) {
		t.Errorf("argocd-cm-patch.yaml has %d keys, want one per CRD kind (%d)", len(cm.Data), len(kinds))
	}
}
