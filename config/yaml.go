package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"flowlake/stages/source/kafka"
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[kafka.Secret]()
)

// LoadFile decodes a YAML file over c. Unknown keys, keys set twice and
// values of the wrong kind are reported all at once, each with its YAML
// path and line, as Problems; every other key is still applied. There is no
// ${VAR} expansion: formats use that syntax; FLOWLAKE_* variables override
// any field that has a flag.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return c.loadYAML(b)
}

func (c *Config) loadYAML(b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		// yaml.v3 syntax errors read "yaml: line 3: ..." and name no Go type.
		return Problems{{Path: "(file)", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var ps Problems
	c.decodeNode(&doc, reflect.ValueOf(c).Elem(), "", &ps)
	return ps.err()
}

// decodeNode walks n against v's type, setting every leaf it can and
// recording a problem for every key or value it cannot use.
func (c *Config) decodeNode(n *yaml.Node, v reflect.Value, path string, ps *Problems) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			c.decodeNode(n.Content[0], v, path, ps)
		}
		return
	case yaml.AliasNode:
		c.decodeNode(n.Alias, v, path, ps)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	at := origin{kind: fromFile, line: n.Line}
	if v.Kind() == reflect.Struct {
		if n.Kind != yaml.MappingNode {
			*ps = append(*ps, Problem{Path: orRoot(path), Msg: "want a mapping of keys", where: at})
			return
		}
		fields, names := yamlFields(v.Type())
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			kat := origin{kind: fromFile, line: k.Line}
			if first, dup := seen[k.Value]; dup {
				*ps = append(*ps, Problem{Path: p, Msg: fmt.Sprintf("set twice (first on line %d)", first), where: kat})
				continue
			}
			seen[k.Value] = k.Line
			idx, ok := fields[k.Value]
			if !ok {
				pr := Problem{Path: p, Msg: "unknown key", where: kat}
				if s := suggest(k.Value, names); s != "" {
					pr.hint = "did you mean " + s + "?"
				}
				*ps = append(*ps, pr)
				continue
			}
			c.decodeNode(val, v.FieldByIndex(idx), p, ps)
		}
		return
	}
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		msg := "want " + describe(v.Type())
		if n.Kind == yaml.ScalarNode && v.Type() != secretType {
			msg = fmt.Sprintf("%q: %s", n.Value, msg)
		}
		*ps = append(*ps, Problem{Path: path, Msg: msg, where: at})
		return
	}
	v.Set(tmp.Elem())
	c.setOrigin(path, at)
}

// describe names the kind of value a field takes, in the user's words.
func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 500ms, 30s, 5m or 1h"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list of " + strings.TrimPrefix(describe(t.Elem()), "a ") + "s"
	case t.Kind() == reflect.Map:
		return "a mapping of names to " + strings.TrimPrefix(describe(t.Elem()), "a ") + "s"
	}
	return "a mapping of keys"
}

// yamlFields maps a struct's YAML keys to field indexes.
func yamlFields(t reflect.Type) (map[string][]int, []string) {
	m := map[string][]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		m[name] = f.Index
		names = append(names, name)
	}
	return m, names
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

// setting is one leaf of the configuration: a YAML path and its value.
type setting struct {
	path  string
	value reflect.Value
}

// settings lists every leaf of c (scalars, lists and maps) in declaration
// order. The values are addressable: they alias c's fields.
func (c *Config) settings() []setting {
	var out []setting
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		if v.Kind() != reflect.Struct {
			out = append(out, setting{path, v})
			return
		}
		for i := range v.NumField() {
			if name := yamlName(v.Type().Field(i)); name != "" {
				walk(v.Field(i), joinPath(path, name))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

func (c *Config) setOrigin(path string, o origin) {
	if c.origins == nil {
		c.origins = map[string]origin{}
	}
	c.origins[path] = o
}

// originOf says where path's value came from; for a default it names the
// setting's flag.
func (c *Config) originOf(path string) origin {
	if o, ok := c.origins[path]; ok {
		return o
	}
	return origin{kind: fromDefault, name: flagNames()[path]}
}
