package schema

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseHeader: a header line from a message (any producer's bytes)
// never panics; an accepted one names known fields, its canonical header
// re-parses to the same fields, and LooksLikeHeader agrees with its first
// word.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(DefaultFormat.Header()))
	f.Add([]byte("version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"))
	f.Add([]byte("  version\taccount-id  "))
	f.Add([]byte("version version"))
	f.Add([]byte("version no-such-field"))
	f.Add([]byte(""))
	f.Add([]byte("resource-id encryption-status next-hop-vpc-id"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(line) > 1<<16 {
			return
		}
		looks := LooksLikeHeader(line)
		fm, err := ParseHeader(line)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		words := bytes.FieldsFunc(line, asciiSpace)
		if len(fm.Fields()) != len(words) {
			t.Fatalf("%d fields from %d words", len(fm.Fields()), len(words))
		}
		if bytes.HasPrefix(line, words[0]) && !looks {
			t.Fatalf("accepted header %q does not look like one", line)
		}
		again, err := ParseHeader([]byte(fm.Header()))
		if err != nil || again.String() != fm.String() {
			t.Fatalf("canonical header %q re-parses to %v (%v), want %q", fm.Header(), again, err, fm.String())
		}
	})
}

// FuzzParseFormat: a format string (configuration) never panics; an
// accepted one renders to a string that parses to the same fields.
func FuzzParseFormat(f *testing.F) {
	f.Add(DefaultFormatText)
	f.Add("${version} ${vpc-id} ${srcaddr}")
	f.Add("${version} ${version}")
	f.Add("${version}x ${account-id}")
	f.Add("${resource-id}")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseFormat(s, AllowNewerFields(true))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if len(fm.Fields()) != len(strings.Fields(s)) {
			t.Fatalf("%d fields from %q", len(fm.Fields()), s)
		}
		again, err := ParseFormat(fm.String(), AllowNewerFields(true))
		if err != nil || again.String() != fm.String() {
			t.Fatalf("%q re-parses to %v (%v)", fm.String(), again, err)
		}
	})
}
