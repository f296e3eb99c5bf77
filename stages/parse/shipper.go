package parse

import (
	"bytes"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Log shippers (Filebeat, Fluent Bit, Vector) put each line they read into
// a JSON event, one event per line of a message, with the raw line in a
// field: "message" for Filebeat and Vector, "log" for Fluent Bit. This file
// finds that field without allocating: a flat scan over the top-level keys
// of the event, descending only into the objects a dotted path names.

// DefaultJSONFields are the fields tried, in order, when none is configured.
var DefaultJSONFields = []string{"message", "log"}

// cloudWatchKeys are the top-level keys that make a JSON object a
// CloudWatch Logs payload (or its Lambda wrapper) rather than a shipper event.
var cloudWatchKeys = []string{"messageType", "logEvents", "awslogs"}

var (
	errNoField   = errors.New("JSON event has no flow log field")
	errBadJSON   = errors.New("not a JSON object")
	errNotString = errors.New("flow log field is not a string")
)

// isCloudWatchJSON reports whether the first JSON object of b has a
// top-level key of a CloudWatch Logs payload.
func isCloudWatchJSON(b []byte) bool {
	found := false
	_ = eachKey(b, func(key []byte, _ []byte) bool {
		for _, k := range cloudWatchKeys {
			if string(key) == k {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// shipperField returns the string value at path (dot-separated keys) in
// the JSON object ev, unescaped. The result aliases ev when the string has
// no escapes, else it is appended to scratch, which is returned grown.
func shipperField(ev []byte, path string, scratch []byte) (val, grown []byte, err error) {
	obj := ev
	for {
		seg, rest, nested := strings.Cut(path, ".")
		var raw []byte
		found := false
		// The last of duplicate keys wins, as in encoding/json.
		err := eachKey(obj, func(key, v []byte) bool {
			if keyIs(key, seg) {
				raw, found = v, true
			}
			return true
		})
		if found && raw == nil {
			return nil, scratch, errBadJSON
		}
		if err != nil && raw != nil {
			err = nil // the broken part comes after the field
		}
		if err != nil {
			return nil, scratch, err
		}
		if raw == nil {
			return nil, scratch, errNoField
		}
		if !nested {
			if len(raw) == 0 || raw[0] != '"' {
				return nil, scratch, errNotString
			}
			return unquote(raw, scratch)
		}
		if raw[0] != '{' {
			return nil, scratch, errNoField
		}
		obj, path = raw, rest
	}
}

// keyIs reports whether the JSON key content key (escapes as written)
// names want.
func keyIs(key []byte, want string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key) == want
	}
	var buf [64]byte
	q := make([]byte, 0, len(key)+2) // rare: keys are seldom escaped
	q = append(append(append(q, '"'), key...), '"')
	k, _, err := unquote(q, buf[:0])
	return err == nil && string(k) == want
}

// eachKey calls fn with every top-level key (still quoted content, escapes
// left as they are) and its raw value of the JSON object at the start of
// b, until fn returns false; a value that cannot be skipped is passed as nil
// and ends the walk with an error. It checks the structure it walks, not every
// detail of the values it skips.
func eachKey(b []byte, fn func(key, val []byte) bool) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errBadJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errBadJSON
		}
		end := skipString(b, i)
		if end < 0 {
			return errBadJSON
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errBadJSON
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			fn(key, nil) // the key still tells what the object is
			return errBadJSON
		}
		if !fn(key, b[i:vend]) {
			return nil
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return errBadJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return nil
		default:
			return errBadJSON
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"',
// or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				e := skipString(b, i)
				if e < 0 {
					return -1
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// unquote decodes the JSON string q (quotes included). Without escapes the
// result aliases q; otherwise it is appended to scratch.
func unquote(q, scratch []byte) (val, grown []byte, err error) {
	s := q[1 : len(q)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, scratch, nil
	}
	start := len(scratch)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			scratch = append(scratch, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, scratch, errBadJSON
		}
		switch s[i] {
		case '"', '\\', '/':
			scratch = append(scratch, s[i])
		case 'b':
			scratch = append(scratch, '\b')
		case 'f':
			scratch = append(scratch, '\f')
		case 'n':
			scratch = append(scratch, '\n')
		case 'r':
			scratch = append(scratch, '\r')
		case 't':
			scratch = append(scratch, '\t')
		case 'u':
			r, n := hex4(s[i+1:])
			if n < 0 {
				return nil, scratch, errBadJSON
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, m := hex4(s[min(i+3, len(s)):]); m >= 0 && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r = utf16.DecodeRune(r, r2)
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			scratch = utf8.AppendRune(scratch, r)
		default:
			return nil, scratch, errBadJSON
		}
	}
	return scratch[start:], scratch, nil
}

func hex4(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, -1
		}
	}
	return r, 4
}
