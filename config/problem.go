package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration, located where the value
// came from: a YAML path and line, an environment variable or a flag.
type Problem struct {
	// Path is the YAML path of the setting (sink.s3.region).
	Path string
	// Msg says what is wrong, without the value when the value is secret.
	Msg string
	// Where is filled in by the configuration that produced the problem.
	where origin
	// hint is appended after the location, e.g. "did you mean region?".
	hint string
}

// String renders the problem, naming the origin of the value:
//
//	sink.s3.regoin: unknown key (line 7), did you mean region?
//	kafka.start_offset: "middle": want earliest or latest (line 4)
//	FLOWLAKE_START_OFFSET (kafka.start_offset): ...
//	--start-offset (kafka.start_offset): ...
func (p Problem) String() string {
	var b strings.Builder
	switch p.where.kind {
	case fromFlag:
		fmt.Fprintf(&b, "--%s (%s): %s", p.where.name, p.Path, p.Msg)
	case fromEnv:
		fmt.Fprintf(&b, "%s (%s): %s", p.where.name, p.Path, p.Msg)
	case fromFile:
		fmt.Fprintf(&b, "%s: %s (line %d)", p.Path, p.Msg, p.where.line)
	default:
		b.WriteString(p.Path)
		if p.where.name != "" {
			fmt.Fprintf(&b, " (--%s)", p.where.name)
		}
		fmt.Fprintf(&b, ": %s", p.Msg)
	}
	if p.hint != "" {
		b.WriteString(", ")
		b.WriteString(p.hint)
	}
	return b.String()
}

// Problems is every problem found in a configuration; it is an error that
// wraps ErrInvalid, one problem per line.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (ps Problems) Unwrap() error { return ErrInvalid }

// err returns nil for no problems.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

type originKind uint8

const (
	fromDefault originKind = iota
	fromFile
	fromEnv
	fromFlag
)

// origin is where a setting's value came from. For fromDefault, name is the
// setting's flag if it has one.
type origin struct {
	kind originKind
	line int
	name string // flag name (without --) or environment variable
}

// suggest returns the candidate closest to s within a small edit distance.
func suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Warnings lists settings that are valid but unwise: a secret written in
// the config file.
func (c *Config) Warnings() Problems {
	var ws Problems
	const p = "kafka.auth.password"
	if o := c.originOf(p); o.kind == fromFile && c.Kafka.Auth.Password != "" {
		ws = append(ws, Problem{Path: p, Msg: "a secret in the config file; prefer kafka.auth.password_file (--kafka-password-file)", where: o})
	}
	return ws
}
