package deployments

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

const chartDir = "helm/flowlake"

// manifest is one rendered Kubernetes object.
type manifest struct {
	file string
	obj  map[string]any
}

func (m manifest) kind() string { return str(m.obj, "kind") }

// render renders the chart as `helm template` does: every template with
// Helm's function set (sprig plus include, required, tpl, toYaml and
// fromYaml), .Values from values.yaml with overrides applied, .Chart from
// Chart.yaml and .Files over the chart folder. It fails on any template
// or YAML error.
func render(t *testing.T, overrides map[string]any) []manifest {
	t.Helper()
	values := readYAML(t, filepath.Join(chartDir, "values.yaml"))
	mergeInto(values, overrides)
	chart := readYAML(t, filepath.Join(chartDir, "Chart.yaml"))
	data := map[string]any{
		"Values":  values,
		"Chart":   map[string]any{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
		"Release": map[string]any{"Name": "flowlake", "Namespace": "flowlake", "Service": "Helm"},
		"Files":   files{},
	}
	root := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = func(v any) string {
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	funcs["fromYaml"] = func(s string) map[string]any {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			panic(err)
		}
		return m
	}
	funcs["required"] = func(msg string, v any) (any, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["include"] = func(name string, data any) (string, error) {
		var b bytes.Buffer
		err := root.ExecuteTemplate(&b, name, data)
		return b.String(), err
	}
	funcs["tpl"] = func(s string, data any) (string, error) {
		tt, err := root.Clone()
		if err != nil {
			return "", err
		}
		if tt, err = tt.New("tpl").Parse(s); err != nil {
			return "", err
		}
		var b bytes.Buffer
		err = tt.Execute(&b, data)
		return b.String(), err
	}
	root.Funcs(funcs)
	paths, _ := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	slices.Sort(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.New(filepath.Base(p)).Parse(string(b)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	var out []manifest
	for _, p := range paths {
		name := filepath.Base(p)
		if strings.HasPrefix(name, "_") {
			continue
		}
		var b bytes.Buffer
		if err := root.ExecuteTemplate(&b, name, data); err != nil {
			t.Fatalf("render %s: %v", name, err)
		}
		dec := yaml.NewDecoder(&b)
		for {
			var obj map[string]any
			err := dec.Decode(&obj)
			if err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s renders invalid YAML: %v\n%s", name, err, b.String())
			}
			if obj != nil {
				out = append(out, manifest{file: name, obj: obj})
			}
		}
	}
	return out
}

// files is .Files: the chart's files, read on demand.
type files struct{}

func (files) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(chartDir, name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
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
