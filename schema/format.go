package schema

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// DefaultFormatText is the default (version 2) flow log format.
const DefaultFormatText = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// DefaultFormat is the parsed default format.
var DefaultFormat = MustParseFormat(DefaultFormatText)

// ErrFormat is wrapped by every format error.
var ErrFormat = errors.New("invalid flow log format")

// Format is an ordered list of flow log fields, as configured on a flow log
// (`LogFormat`). It fixes the order of values in a line and of the Parquet
// columns. A Format is immutable.
type Format struct {
	fields  []FieldID
	index   [NumFlowFields]int8
	version int
	text    string
	header  string
}

// FormatOption changes how formats are parsed.
type FormatOption func(*formatOpts)

type formatOpts struct{ allowNewer bool }

// AllowNewerFields accepts the post-v8 fields (resource-id, next-hop-*, tags,
// ...), which are written as optional strings.
func AllowNewerFields(allow bool) FormatOption {
	return func(o *formatOpts) { o.allowNewer = allow }
}

// ParseFormat parses AWS's format syntax: `${field} ${field} ...`. An empty
// format, an unknown token, a repeated field or literal text is an error
// that names the token.
func ParseFormat(s string, opts ...FormatOption) (*Format, error) {
	var o formatOpts
	for _, opt := range opts {
		opt(&o)
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: empty format", ErrFormat)
	}
	ids := make([]FieldID, 0, len(words))
	for _, w := range words {
		if !strings.HasPrefix(w, "${") || !strings.HasSuffix(w, "}") || len(w) < 4 {
			return nil, fmt.Errorf("%w: %q is not a ${field} token", ErrFormat, w)
		}
		tok := w[2 : len(w)-1]
		id, ok := Lookup(tok)
		if !ok {
			return nil, fmt.Errorf("%w: unknown field %q", ErrFormat, tok)
		}
		if Fields[id].Newer && !o.allowNewer {
			return nil, fmt.Errorf("%w: field %q is newer than version 8; enable newer fields to use it", ErrFormat, tok)
		}
		ids = append(ids, id)
	}
	return newFormat(ids)
}

// MustParseFormat is ParseFormat for constants; it panics on error.
func MustParseFormat(s string) *Format {
	f, err := ParseFormat(s, AllowNewerFields(true))
	if err != nil {
		panic(err)
	}
	return f
}

// ParseHeader reads a header line (`version account-id interface-id ...`),
// as found at the top of AWS's text files, into a format. Newer fields are
// accepted: a header states what the file holds.
func ParseHeader(line []byte) (*Format, error) {
	words := bytes.FieldsFunc(line, asciiSpace)
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: empty header", ErrFormat)
	}
	ids := make([]FieldID, 0, len(words))
	for _, w := range words {
		id, ok := byToken[string(w)]
		if !ok {
			return nil, fmt.Errorf("%w: unknown header field %q", ErrFormat, w)
		}
		ids = append(ids, id)
	}
	return newFormat(ids)
}

// asciiSpace reports the white space header words are split on (not
// Unicode spaces: LooksLikeHeader must agree).
func asciiSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f' || r == '\n'
}

// LooksLikeHeader reports whether line starts like a header line rather than
// a record: records start with a digit, a dash or an address.
func LooksLikeHeader(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	c := line[0]
	if c < 'a' || c > 'z' {
		return false
	}
	// Words end at white space, as ParseHeader splits them (a fuzzed
	// tab-separated header was parsed but never recognised).
	sp := bytes.IndexAny(line, " \t\r\v\f\n")
	if sp < 0 {
		sp = len(line)
	}
	_, ok := byToken[string(line[:sp])]
	return ok
}

func newFormat(ids []FieldID) (*Format, error) {
	f := &Format{fields: ids}
	for i := range f.index {
		f.index[i] = -1
	}
	if len(ids) > 127 {
		return nil, fmt.Errorf("%w: too many fields", ErrFormat)
	}
	var text, header strings.Builder
	for i, id := range ids {
		if f.index[id] >= 0 {
			return nil, fmt.Errorf("%w: field %q appears twice", ErrFormat, Fields[id].Token)
		}
		f.index[id] = int8(i)
		if v := Fields[id].Version; v > f.version {
			f.version = v
		}
		if i > 0 {
			text.WriteByte(' ')
			header.WriteByte(' ')
		}
		text.WriteString("${" + Fields[id].Token + "}")
		header.WriteString(Fields[id].Token)
	}
	f.text, f.header = text.String(), header.String()
	return f, nil
}

// Fields returns the format's fields in order. Callers must not modify it.
func (f *Format) Fields() []FieldID { return f.fields }

// Len is the number of fields, which is the number of values in a line.
func (f *Format) Len() int { return len(f.fields) }

// Has reports whether the format carries the field.
func (f *Format) Has(id FieldID) bool { return id < NumFlowFields && f.index[id] >= 0 }

// Version is the highest version among the format's fields.
func (f *Format) Version() int { return f.version }

// String returns the format in AWS's `${field}` syntax.
func (f *Format) String() string { return f.text }

// Header returns the format's header line.
func (f *Format) Header() string { return f.header }
