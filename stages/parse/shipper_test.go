package parse

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"flowlake/schema"
)

// filebeat, fluentbit and vector render one event the way each shipper
// does by default (fields trimmed to the ones that matter).
func filebeat(line string) string {
	b, _ := json.Marshal(map[string]any{"@timestamp": "2024-05-01T13:02:11.123Z", "message": line,
		"host": map[string]any{"name": "ip-10-0-0-1"}, "log": map[string]any{"offset": 1234, "file": map[string]any{"path": "/var/log/flows.log"}}})
	return string(b)
}

func fluentbit(line string) string {
	b, _ := json.Marshal(map[string]any{"date": 1714568531.123, "log": line + "\n", "stream": "stdout"})
	return string(b)
}

func vector(line string) string {
	b, _ := json.Marshal(map[string]any{"message": line, "timestamp": "2024-05-01T13:02:11Z", "source_type": "file", "file": "/var/log/flows.log"})
	return string(b)
}

func TestShipperEnvelope(t *testing.T) {
	const def, acct = "us-east-1|", "123456789010|"
	escaped := `{"message":"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 \u0041CCEPT OK\r\n","x":"\"}"}`
	tests := []struct {
		name   string
		fields []string
		msgs   [][]byte
		rows   []string
		dead   []wantDead
	}{
		{
			name: "filebeat, fluent bit, vector",
			msgs: [][]byte{[]byte(filebeat(lineAccept)), []byte(fluentbit(lineNoData)), []byte(vector(lineIPv6))},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData, acct + def + lineIPv6},
		},
		{
			name: "one event per line, gzipped, with a blank line",
			msgs: [][]byte{gz(t, vector(lineAccept)+"\n\n"+vector(lineSkipData)+"\n")},
			rows: []string{acct + def + lineAccept, "210987654321|us-east-1|" + lineSkipData},
		},
		{
			name: "an event without the field is dead, its neighbours are not",
			msgs: [][]byte{[]byte(vector(lineAccept) + "\n" + `{"msg":"` + lineNoData + `"}` + "\n" + `{"message":42}` + "\n" + `{"message":"x` + "\n" + vector(lineNoData))},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData},
			dead: []wantDead{{0, 2, schema.ReasonBadEnvelope, []byte(`{"msg":"` + lineNoData + `"}`)}, {0, 3, schema.ReasonBadEnvelope, []byte(`{"message":42}`)},
				{0, 4, schema.ReasonBadEnvelope, []byte(`{"message":"x`)}},
		},
		{
			name: "a bad line inside an event is dead at the event's line",
			msgs: [][]byte{[]byte(filebeat("not a record") + "\n" + filebeat(lineAccept))},
			rows: []string{acct + def + lineAccept},
			dead: []wantDead{{0, 1, schema.ReasonFieldCount, []byte("not a record")}},
		},
		{
			name: "escapes are decoded",
			msgs: [][]byte{[]byte(escaped)},
			rows: []string{acct + def + lineAccept},
		},
		{
			name: "a header event selects the format",
			msgs: [][]byte{[]byte(filebeat(v5Header) + "\n" + filebeat(v5Line))},
			rows: []string{"123456789012|ap-southeast-2|" + v5Line},
		},
		{
			name:   "a configured nested field",
			fields: []string{"event.original"},
			msgs:   [][]byte{[]byte(`{"message":"parsed","event":{"kind":"x","original":"` + lineAccept + `"}}`), []byte(filebeat(lineNoData))},
			rows:   []string{acct + def + lineAccept},
			dead:   []wantDead{{1, 1, schema.ReasonBadEnvelope, nil}},
		},
		{
			name: "raw lines and shipper events in one topic",
			msgs: [][]byte{[]byte(lineAccept), []byte(fluentbit(lineNoData)), gz(t, lineSkipData), []byte(cwJSON(t, "DATA_MESSAGE", "111122223333", lineAccept))},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData, "210987654321|us-east-1|" + lineSkipData, acct + def + lineAccept},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := withTestClock(Config{Workers: 2, Region: "us-east-1", JSONFields: tt.fields})
			c := NewChunk("flows", 0, messages(0, tt.msgs...))
			runPool(t, cfg, c)
			checkChunk(t, c)
			want := slices.Clone(tt.rows)
			slices.Sort(want)
			if got := rowsOf(c); !slices.Equal(got, want) {
				t.Errorf("rows:\n got %q\nwant %q", got, want)
			}
			if len(c.Dead) != len(tt.dead) {
				for _, d := range c.Dead {
					t.Logf("dead: offset %d line %d %s: %s", d.Offset, d.Line, d.Reason, d.Detail)
				}
				t.Fatalf("%d dead letters, want %d", len(c.Dead), len(tt.dead))
			}
			for i, w := range tt.dead {
				d := c.Dead[i]
				if d.Offset != w.offset || d.Line != w.line || d.Reason != w.reason {
					t.Errorf("dead letter %d: offset %d line %d %s (%s), want %d/%d %s", i, d.Offset, d.Line, d.Reason, d.Detail, w.offset, w.line, w.reason)
				}
				if w.raw != nil && string(d.Raw) != string(w.raw) {
					t.Errorf("dead letter %d: raw %q, want %q", i, d.Raw, w.raw)
				}
			}
		})
	}
}

func TestShipperFieldConfig(t *testing.T) {
	for _, bad := range []string{".message", "message.", "a..b"} {
		if _, err := NewPool(Config{Region: "us-east-1", JSONFields: []string{bad}}, nil, nil); err == nil {
			t.Errorf("JSON field %q accepted", bad)
		}
	}
}

func TestShipperPathDoesNotAllocate(t *testing.T) {
	p, err := NewPool(withTestClock(Config{Workers: 1, Region: "us-east-1"}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := p.newWorker()
	msg := []byte(strings.Repeat(filebeat(lineAccept)+"\n", 200))
	c := NewChunk("flows", 0, messages(0, msg))
	w.process(c)
	allocs := testing.AllocsPerRun(50, func() {
		for i := range c.Groups {
			c.Groups[i].Block.Reset()
		}
		c.Stats = Stats{}
		w.lastIndex = -1
		for i := range c.Msgs {
			w.message(c, &c.Msgs[i])
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per 200-event message, want 0", allocs)
	}
	if c.Stats.Rows != 200 {
		t.Fatalf("rows %d", c.Stats.Rows)
	}
}

// FuzzShipperField checks the field scanner against encoding/json: for
// any valid JSON object whose "message" is a string, both agree on it.
func FuzzShipperField(f *testing.F) {
	for _, s := range []string{filebeat(lineAccept), fluentbit(lineAccept), `{"message":"a\u00e9\ud83d\ude00\n\"x"}`,
		`{"a":[1,{"message":"no"}],"message":"yes"}`, `{"message":null}`, `{}`, `{"message":"x",}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := shipperField(b, "message", nil)
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || !json.Valid(b) || !utf8.Valid(b) {
			// Invalid JSON: the scanner may decline or not, but must not
			// panic. Invalid UTF-8: the scanner keeps the bytes (the
			// parser dead-letters them whole) where encoding/json
			// replaces them.
			return
		}
		want, ok := m["message"].(string)
		if !ok {
			if err == nil {
				t.Fatalf("field %q found where encoding/json has %v", got, m["message"])
			}
			return
		}
		if err != nil {
			t.Fatalf("scanner: %v; encoding/json: %q", err, want)
		}
		if string(got) != want {
			t.Fatalf("scanner %q, encoding/json %q", got, want)
		}
	})
}
