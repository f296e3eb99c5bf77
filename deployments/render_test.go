package deployments

import (
	"bytes"
	"flowlake/internal/testenv"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const chartDir = "helm/flowlake"

// manifest is one rendered Kubernetes object.
type manifest struct {
	file string
	obj  map[string]any
}

func (m manifest) kind() string { return str(m.obj, "kind") }

// render renders the chart with the real helm (`helm template`, the
// release flowlake in namespace flowlake), with overrides (dotted keys,
// "keda.enabled") as a values file. It fails on any template, schema or
// YAML error.
func render(t *testing.T, overrides map[string]any) []manifest {
	t.Helper()
	values := map[string]any{}
	mergeInto(values, overrides)
	b, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	valuesFile := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(valuesFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Helm(t), "template", "flowlake", chartDir, "--namespace", "flowlake", "--values", valuesFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	var ms []manifest
	for _, doc := range strings.Split(string(out), "\n---\n") {
		file := ""
		for _, line := range strings.Split(doc, "\n") {
			if f, ok := strings.CutPrefix(line, "# Source: "); ok {
				file = filepath.Base(f)
				break
			}
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%s renders invalid YAML: %v\n%s", file, err, doc)
		}
		if obj != nil {
			ms = append(ms, manifest{file: file, obj: obj})
		}
	}
	return ms
}

// mergeInto sets dotted keys ("keda.enabled") of overrides into m.
func mergeInto(m map[string]any, overrides map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		cur := m
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = overrides[k]
	}
}

// get walks a path of map keys and list indexes ("spec.template.spec.containers.0").
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path string) string {
	s, _ := get(v, path).(string)
	return s
}

func find(ms []manifest, kind string) []manifest {
	var out []manifest
	for _, m := range ms {
		if m.kind() == kind {
			out = append(out, m)
		}
	}
	return out
}
