package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ByteSize is a number of bytes that reads units: a plain number of bytes,
// or a number followed by B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB,
// GB, TB (powers of 1000), like `128MiB` or `1.5GiB`. It is a flag value and
// decodes from YAML numbers and strings.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"ki", 1 << 10}, {"mi", 1 << 20}, {"gi", 1 << 30}, {"ti", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseByteSize parses a size with an optional unit.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	if t == "" {
		return 0, fmt.Errorf("size %q: no number", s)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		v := float64(n) * mult
		if v > math.MaxInt64/2 || v < math.MinInt64/2 {
			return 0, fmt.Errorf("size %q: too large", s)
		}
		return ByteSize(n * int64(mult)), nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (B, KiB, MiB, GiB, kB, MB, GB)", s)
	}
	v := f * mult
	if v > math.MaxInt64/2 || v < math.MinInt64/2 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return ByteSize(math.Round(v)), nil
}

// String prints the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	n := int64(b)
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalYAML reads a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes the size with its unit.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// intBytes is a flag for an int field that reads sizes with units.
type intBytes struct{ p *int }

func (f intBytes) String() string {
	if f.p == nil {
		return "0"
	}
	return ByteSize(*f.p).String()
}

func (f intBytes) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	if int64(v) != int64(int(v)) {
		return fmt.Errorf("size %q: too large", s)
	}
	*f.p = int(v)
	return nil
}

// int64Bytes is a flag for an int64 field that reads sizes with units.
type int64Bytes struct{ p *int64 }

func (f int64Bytes) String() string {
	if f.p == nil {
		return "0"
	}
	return ByteSize(*f.p).String()
}

func (f int64Bytes) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*f.p = int64(v)
	return nil
}

// target is the field the flag sets (flagPaths maps it to its YAML key).
func (f intBytes) target() any { return f.p }

func (f int64Bytes) target() any { return f.p }
