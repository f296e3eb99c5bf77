package config

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Print writes the effective configuration as YAML, every key present with
// its value after defaults, file, environment and flags. Secrets print as
// "<redacted>" when set. Each value set by something other than a default
// carries a comment saying where it came from.
func (c *Config) Print(w io.Writer) error {
	root := c.node(reflect.ValueOf(c).Elem(), "")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	return enc.Close()
}

func (c *Config) node(v reflect.Value, path string) *yaml.Node {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := range t.NumField() {
			name := yamlName(t.Field(i))
			if name == "" {
				continue
			}
			p := joinPath(path, name)
			val := c.node(v.Field(i), p)
			if o := c.originOf(p); o.kind != fromDefault {
				val.LineComment = o.describe()
			}
			n.Content = append(n.Content, scalar(name, "!!str"), val)
		}
		return n
	case t == secretType:
		if v.String() == "" {
			return scalar("", "!!str")
		}
		return scalar("<redacted>", "!!str")
	case t == durationType:
		return scalar(time.Duration(v.Int()).String(), "!!str")
	case t.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := range v.Len() {
			n.Content = append(n.Content, c.node(v.Index(i), path))
		}
		return n
	case t.Kind() == reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			n.Content = append(n.Content, scalar(k, "!!str"), c.node(v.MapIndex(reflect.ValueOf(k)), path))
		}
		return n
	case t.Kind() == reflect.Bool:
		return scalar(strconv.FormatBool(v.Bool()), "!!bool")
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return scalar(strconv.FormatInt(v.Int(), 10), "!!int")
	}
	return scalar(fmt.Sprint(v.Interface()), "!!str")
}

func scalar(s, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Tag: tag}
}

func (o origin) describe() string {
	switch o.kind {
	case fromFile:
		return fmt.Sprintf("file, line %d", o.line)
	case fromEnv:
		return "env " + o.name
	case fromFlag:
		return "flag --" + o.name
	}
	return ""
}
