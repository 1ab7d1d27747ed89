// Command openapi2jsonschema writes the strict, per-kind JSON schemas that
// kubeconform reads (file name {kind}-{group prefix}-{version}.json, as in
// kubeconform's -schema-location "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
// offline, from:
//
//   - a Kubernetes OpenAPI v2 document (swagger.json; tests/scripts/check-deploy.sh
//     takes the one shipped in the k8s.io/kubernetes Go module that
//     tests/apiserver builds, so the schemas match the test apiserver), and
//   - CRD manifests (their openAPIV3Schema).
//
// Strict means additionalProperties: false on every object with properties,
// like kubeconform's "-strict" schema sets. Each kind file carries only the
// definitions it references.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type schema = map[string]any

func main() {
	swagger := flag.String("swagger", "", "Kubernetes OpenAPI v2 swagger.json")
	out := flag.String("out", "", "output directory")
	flag.Parse()
	if *swagger == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: openapi2jsonschema -swagger swagger.json -out DIR [crd.yaml ...]")
		os.Exit(2)
	}
	if err := run(*swagger, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "openapi2jsonschema:", err)
		os.Exit(1)
	}
}

func fileName(kind, group, version string) string {
	suffix := "-" + strings.ToLower(strings.Split(group, ".")[0]) + "-" + strings.ToLower(version)
	if group == "" {
		suffix = "-" + strings.ToLower(version)
	}
	return strings.ToLower(kind) + suffix + ".json"
}

func write(dir, name string, s schema) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
}

func run(swaggerPath, out string, crds []string) error {
	raw, err := os.ReadFile(swaggerPath)
	if err != nil {
		return err
	}
	var doc struct {
		Definitions map[string]schema `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", swaggerPath, err)
	}
	if len(doc.Definitions) == 0 {
		return fmt.Errorf("%s: no definitions", swaggerPath)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	defs := map[string]any{}
	for name, d := range doc.Definitions {
		defs[name] = strict(d)
	}
	// resource.Quantity is a string in OpenAPI but YAML may give a number (memory: 1).
	const quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	if _, ok := defs[quantity]; ok {
		defs[quantity] = schema{"oneOf": []any{schema{"type": "string"}, schema{"type": "number"}}}
	}
	n := 0
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		gvks, _ := doc.Definitions[name]["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk := g.(map[string]any)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			used := map[string]any{}
			collect(defs, name, used)
			s := schema{
				"$schema":     "http://json-schema.org/draft-07/schema#",
				"$ref":        "#/definitions/" + name,
				"definitions": used,
			}
			if err := write(out, fileName(kind, group, version), s); err != nil {
				return err
			}
			n++
		}
	}
	for _, path := range crds {
		m, err := crdSchemas(path, out)
		if err != nil {
			return err
		}
		n += m
	}
	fmt.Fprintf(os.Stderr, "openapi2jsonschema: wrote %d schemas to %s\n", n, out)
	return nil
}

// collect adds name and every definition it references to used.
func collect(defs map[string]any, name string, used map[string]any) {
	if _, ok := used[name]; ok {
		return
	}
	d, ok := defs[name]
	if !ok {
		return
	}
	used[name] = d
	walk(d, func(ref string) { collect(defs, ref, used) })
}

func walk(v any, ref func(string)) {
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["$ref"].(string); ok {
			ref(strings.TrimPrefix(r, "#/definitions/"))
		}
		for _, e := range v {
			walk(e, ref)
		}
	case []any:
		for _, e := range v {
			walk(e, ref)
		}
	}
}

// strict rewrites one schema node (recursively through its sub-schemas) for
// JSON-schema validation of YAML manifests the way the apiserver reads them.
// Only schema keywords are touched: property names, defaults and enums are
// copied as they are.
func strict(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, e := range m {
		switch k {
		case "format", "description":
			// Formats (int32, date-time, byte, ...) are not asserted; descriptions are noise.
		case "properties", "patternProperties", "definitions":
			sub := map[string]any{}
			for name, s := range e.(map[string]any) {
				sub[name] = strict(s)
			}
			out[k] = sub
		case "items", "additionalProperties", "not":
			out[k] = strict(e)
		case "allOf", "anyOf", "oneOf":
			var list []any
			for _, s := range e.([]any) {
				list = append(list, strict(s))
			}
			out[k] = list
		default:
			out[k] = e
		}
	}
	if m["format"] == "int-or-string" || m["x-kubernetes-int-or-string"] == true {
		delete(out, "type")
		out["oneOf"] = []any{schema{"type": "string"}, schema{"type": "integer"}}
	}
	if _, ok := out["properties"]; ok {
		if _, has := out["additionalProperties"]; !has && m["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
	}
	// nullable (OpenAPI v3) -> allow null.
	if m["nullable"] == true {
		delete(out, "nullable")
		if t, ok := out["type"].(string); ok {
			out["type"] = []any{t, "null"}
		}
	}
	return out
}

func crdSchemas(path, out string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema schema `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if crd.Kind != "CustomResourceDefinition" {
		return 0, fmt.Errorf("%s: kind %q, want CustomResourceDefinition", path, crd.Kind)
	}
	n := 0
	for _, v := range crd.Spec.Versions {
		s, ok := strict(v.Schema.OpenAPIV3Schema).(map[string]any)
		if !ok || len(s) == 0 {
			return 0, fmt.Errorf("%s: version %s has no openAPIV3Schema", path, v.Name)
		}
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			s["properties"] = props
		}
		// The apiserver adds these to every CRD schema.
		props["apiVersion"] = schema{"type": "string", "enum": []any{crd.Spec.Group + "/" + v.Name}}
		props["kind"] = schema{"type": "string", "enum": []any{crd.Spec.Names.Kind}}
		props["metadata"] = schema{"type": "object"}
		s["additionalProperties"] = false
		s["$schema"] = "http://json-schema.org/draft-07/schema#"
		if err := write(out, fileName(crd.Spec.Names.Kind, crd.Spec.Group, v.Name), s); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
