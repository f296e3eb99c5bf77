package deadletter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
)

var (
	hour5 = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	hour6 = time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC)
	day2  = time.Date(2026, 3, 5, 23, 59, 59, 0, time.UTC)
)

// sampleLetters covers UTF-8 and binary raw bytes, empty raw bytes, JSON
// specials, and three hours over two days.
func sampleLetters() []parse.DeadLetter {
	return []parse.DeadLetter{
		{Topic: "flows", Partition: 2, Offset: 100, Line: 1, Reason: schema.ReasonFieldCount, Detail: "field_count: 3 fields, format has 14",
			Raw: []byte("2 123456789010 eni-1"), Time: hour5},
		{Topic: "flows", Partition: 2, Offset: 100, Line: 3, Reason: schema.ReasonBadUTF8, Detail: "bad_utf8: line is not valid UTF-8",
			Raw: []byte("2 123456789010 eni-1 \xff\xfe\x00 ACCEPT"), Time: hour5},
		{Topic: "flows", Partition: 2, Offset: 101, Line: 0, Reason: schema.ReasonBadEnvelope, Detail: "gunzip: unexpected EOF",
			Raw: []byte{0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad}, Time: hour5},
		{Topic: "flows", Partition: 2, Offset: 102, Line: 0, Reason: schema.ReasonBadEnvelope, Detail: "empty message: no record, no header",
			Raw: []byte{}, Time: hour6},
		{Topic: "flows", Partition: 2, Offset: 103, Line: 7, Reason: schema.ReasonBadAccount, Detail: `bad_account: field account-id: "../../x" is not a 12-digit account id`,
			Raw: []byte("2 ../../x eni-1 <script>\"quoted\"\\ é\t\r"), Time: hour6},
		{Topic: "flows", Partition: 2, Offset: 250, Line: 2, Reason: schema.ReasonBadRegion, Detail: "region",
			Raw: []byte("4 123456789012 us-east-1/../x 1 2 OK"), Time: day2},
	}
}

var keyRE = regexp.MustCompile(`^dl/year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/flows_2_[0-9a-f]{16}\.jsonl$`)

// readTree returns every file under dir: slash path -> bytes.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeLetters(t *testing.T, dir string, letters []parse.DeadLetter) map[string][]byte {
	t.Helper()
	s, err := sink.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := NewSinkWriter(s, "dl")
	if err := w.Write(context.Background(), letters); err != nil {
		t.Fatal(err)
	}
	return readTree(t, dir)
}

// checkJSONLine decodes one JSON Lines object strictly and checks it is
// exactly the letter: every key, no other key, raw bytes exact.
func checkJSONLine(t *testing.T, line []byte, d *parse.DeadLetter) {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(line, &obj); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, line)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rawKey := "raw"
	if !utf8.Valid(d.Raw) {
		rawKey = "raw_base64"
	}
	want := []string{"detail", "line", "message_time", "offset", "partition", rawKey, "reason", "topic"}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Topic != d.Topic || r.Partition != d.Partition || r.Offset != d.Offset || r.Line != d.Line ||
		r.Reason != string(d.Reason) || r.Detail != d.Detail {
		t.Fatalf("record %+v, letter %+v", r, d)
	}
	mt, err := time.Parse(time.RFC3339Nano, r.MessageTime)
	if err != nil || !mt.Equal(d.Time) {
		t.Fatalf("message_time %q (%v), want %v", r.MessageTime, err, d.Time)
	}
	raw, err := r.RawBytes()
	if err != nil || !bytes.Equal(raw, d.Raw) {
		t.Fatalf("raw %q (%v), want %q", raw, err, d.Raw)
	}
	if rawKey == "raw_base64" {
		b, err := base64.StdEncoding.DecodeString(obj["raw_base64"].(string))
		if err != nil || !bytes.Equal(b, d.Raw) {
			t.Fatalf("raw_base64 decodes to %q (%v), want %q", b, err, d.Raw)
		}
	}
}

func TestSinkWriterJSONLines(t *testing.T) {
	letters := sampleLetters()
	files := writeLetters(t, t.TempDir(), letters)

	wantHours := map[string]bool{"2026030405": true, "2026030406": true, "2026030523": true}
	if len(files) != len(wantHours) {
		t.Fatalf("%d files, want one per hour (%d): %v", len(files), len(wantHours), slices.Collect(maps.Keys(files)))
	}
	var got []parse.DeadLetter
	for key, data := range files {
		m := keyRE.FindStringSubmatch(key)
		if m == nil {
			t.Fatalf("key %s is not dl/year=/month=/day=/hour=/<topic>_<partition>_<hash>.jsonl", key)
		}
		hour := m[1] + m[2] + m[3] + m[4]
		if !wantHours[hour] {
			t.Fatalf("key %s: unexpected hour", key)
		}
		if !bytes.HasSuffix(data, []byte("\n")) {
			t.Fatalf("%s does not end with a newline", key)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			i := slices.IndexFunc(letters, func(d parse.DeadLetter) bool { return d.Offset == r.Offset && d.Line == r.Line })
			if i < 0 {
				t.Fatalf("%s: unknown letter %+v", key, r)
			}
			d := letters[i]
			if d.Time.UTC().Format("2006010215") != hour {
				t.Fatalf("letter of %v in the file of hour %s", d.Time, hour)
			}
			checkJSONLine(t, sc.Bytes(), &d)
			got = append(got, d)
		}
	}
	if len(got) != len(letters) {
		t.Fatalf("%d letters on disk, wrote %d", len(got), len(letters))
	}
}

func TestSinkWriterDeterministic(t *testing.T) {
	dir := t.TempDir()
	first := writeLetters(t, dir, sampleLetters())
	// Same letters again into the same sink: the same keys, overwritten
	// with the same bytes; nothing added.
	again := writeLetters(t, dir, sampleLetters())
	// And into a fresh sink.
	other := writeLetters(t, t.TempDir(), sampleLetters())
	for _, m := range []map[string][]byte{again, other} {
		if len(m) != len(first) {
			t.Fatalf("%d files, first write %d", len(m), len(first))
		}
		for k, v := range first {
			if !bytes.Equal(m[k], v) {
				t.Fatalf("%s differs between writes", k)
			}
		}
	}
	// A different first letter names a different object.
	letters := sampleLetters()[1:]
	moved := writeLetters(t, t.TempDir(), letters)
	for k := range moved {
		if strings.Contains(k, "hour=05") {
			if _, ok := first[k]; ok {
				t.Fatalf("%s: another first letter gave the same name", k)
			}
		}
	}
}

func TestSinkWriterHugeRawKeptWhole(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 10<<20)
	d := parse.DeadLetter{Topic: "flows", Partition: 2, Offset: 9, Line: 2, Reason: schema.ReasonTooLong, Detail: "line_too_long", Raw: big, Time: hour5}
	files := writeLetters(t, t.TempDir(), []parse.DeadLetter{d})
	for _, data := range files {
		checkJSONLine(t, bytes.TrimSuffix(data, []byte("\n")), &d)
	}
}

func TestToRecordTruncation(t *testing.T) {
	tests := []struct {
		name    string
		raw     []byte
		max     int
		wantRaw []byte
		base64  bool
	}{
		{"short text untouched", []byte("abc"), 8, []byte("abc"), false},
		{"long text cut", []byte("abcdefghij"), 4, []byte("abcd"), false},
		{"no cut inside a character", []byte("abcé"), 4, []byte("abc"), false},
		{"binary cut", []byte{0xff, 1, 2, 3, 4}, 3, []byte{0xff, 1, 2}, true},
	}
	for _, tt := range tests {
		d := parse.DeadLetter{Raw: tt.raw, Reason: schema.ReasonTooLong}
		r := toRecord(&d, tt.max)
		got, err := r.RawBytes()
		if err != nil || !bytes.Equal(got, tt.wantRaw) || (r.RawBase64 != nil) != tt.base64 {
			t.Errorf("%s: raw %q base64=%v (%v), want %q base64=%v", tt.name, got, r.RawBase64 != nil, err, tt.wantRaw, tt.base64)
		}
		cut := len(tt.raw) > tt.max
		if r.RawTruncated != cut || (cut && r.RawSize != len(tt.raw)) {
			t.Errorf("%s: truncated %v size %d", tt.name, r.RawTruncated, r.RawSize)
		}
	}
}

// A message without a timestamp is filed under the processing hour, not
// 1970; a summary carries its record count and reasons.
func TestSinkWriterNoMessageTime(t *testing.T) {
	before := time.Now().UTC()
	files := writeLetters(t, t.TempDir(), []parse.DeadLetter{{Topic: "t", Partition: 1, Offset: 5, Line: 9, Reason: schema.ReasonDeadLetterLimit,
		Raw: []byte("whole message"), Records: 42, ByReason: map[schema.Reason]int64{schema.ReasonFieldCount: 40, schema.ReasonBadAddr: 2}}})
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	for key, b := range files {
		after := time.Now().UTC()
		okHour := false
		for _, at := range []time.Time{before, after} {
			if strings.HasPrefix(key, fmt.Sprintf("dl/year=%04d/month=%02d/day=%02d/hour=%02d/", at.Year(), int(at.Month()), at.Day(), at.Hour())) {
				okHour = true
			}
		}
		if !okHour {
			t.Fatalf("filed under %s, want the processing hour", key)
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if r.MessageTime != "" || r.Count() != 42 || r.Reasons["field_count"] != 40 || r.Reasons["bad_addr"] != 2 {
			t.Fatalf("record %+v", r)
		}
	}
}
