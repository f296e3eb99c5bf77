package config

import (
	"fmt"
	"strings"
)

// validator collects problems, each located by where its value came from.
type validator struct {
	c  *Config
	ps Problems
}

func (v *validator) bad(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...), where: v.c.originOf(path)})
}

// check reports want at path unless ok.
func (v *validator) check(ok bool, path, want string) {
	if !ok {
		v.bad(path, "%s", want)
	}
}

// oneOf reports value at path unless it is one of allowed.
func (v *validator) oneOf(value, path string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.bad(path, "%q: want %s", value, orList(allowed))
}

// orList renders a, b or c.
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
