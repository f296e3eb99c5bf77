package parse

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"flowlake/schema"
)

type wantDead struct {
	offset int64
	line   int32
	reason schema.Reason
	// raw, when set, is the exact bytes the dead letter must keep.
	raw []byte
}

func TestPoolEnvelopes(t *testing.T) {
	const def, acct = "us-east-1|", "123456789010|"
	row := func(account, region, line string) string { return account + "|" + region + "|" + line }
	big := "2 123456789010 eni-1 " + strings.Repeat("x", 10<<20) // a 10 MB line
	bigMsg, bigGz := []byte(lineAccept+"\n"+big+"\n"+lineNoData), gz(t, big)
	badUTF8 := []byte("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACC\xffEPT OK")
	corrupt := gz(t, lineAccept)
	corrupt = append(corrupt[:12:12], bytes.Repeat([]byte{0xa5}, 40)...)
	truncated := gz(t, lineAccept+"\n"+lineNoData)
	truncated = truncated[:len(truncated)-10]

	tests := []struct {
		name    string
		topic   string // "" is "flows", which uses the default format
		msgs    [][]byte
		rows    []string
		dead    []wantDead
		control int64
	}{
		{
			name: "plain",
			msgs: [][]byte{[]byte(lineAccept)},
			rows: []string{acct + def + lineAccept},
		},
		{
			name: "several lines, IPv6",
			msgs: [][]byte{[]byte(lineAccept + "\n" + lineNoData + "\n" + lineSkipData + "\n" + lineIPv6)},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData, row("210987654321", "us-east-1", lineSkipData), acct + def + lineIPv6},
		},
		{
			name: "CRLF",
			msgs: [][]byte{[]byte(lineAccept + "\r\n" + lineNoData + "\r\n")},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData},
		},
		{
			name: "trailing newline and blank lines",
			msgs: [][]byte{[]byte("\n\n" + lineAccept + "\n\n  \n\t\r\n" + lineNoData + "\n\n\n"), []byte(lineSkipData + "\n")},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData, row("210987654321", "us-east-1", lineSkipData)},
		},
		{
			name: "line numbers count blank lines",
			msgs: [][]byte{[]byte("\n" + lineAccept + "\n\nnot a record\n")},
			rows: []string{acct + def + lineAccept},
			dead: []wantDead{{0, 4, schema.ReasonFieldCount, []byte("not a record")}},
		},
		{
			name: "gzip",
			msgs: [][]byte{gz(t, lineAccept+"\n"+lineNoData+"\n")},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData},
		},
		{
			name: "multi-member gzip",
			msgs: [][]byte{gz(t, lineAccept+"\n", lineNoData+"\n", lineSkipData)},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData, row("210987654321", "us-east-1", lineSkipData)},
		},
		{
			name:  "CloudWatch Logs, owner places rows of a format without account-id",
			topic: "cw",
			msgs: [][]byte{
				gz(t, cwJSON(t, "DATA_MESSAGE", "111122223333", lineNoAccount1, lineNoAccount2, lineNoAccount3)),
				[]byte(cwJSON(t, "DATA_MESSAGE", "444455556666", lineNoAccount1)), // raw JSON, not gzipped
			},
			rows: []string{
				row("111122223333", "us-east-1", lineNoAccount1), row("111122223333", "us-east-1", lineNoAccount2),
				row("111122223333", "us-east-1", lineNoAccount3), row("444455556666", "us-east-1", lineNoAccount1),
			},
		},
		{
			name: "CloudWatch Logs, the record's account wins over owner",
			msgs: [][]byte{gz(t, cwJSON(t, "DATA_MESSAGE", "111122223333", lineAccept, lineSkipData, "garbage"))},
			rows: []string{acct + def + lineAccept, row("210987654321", "us-east-1", lineSkipData)},
			dead: []wantDead{{0, 3, schema.ReasonFieldCount, []byte("garbage")}},
		},
		{
			name:    "CONTROL_MESSAGE is skipped and counted",
			msgs:    [][]byte{gz(t, cwJSON(t, "CONTROL_MESSAGE", "", "CWL CONTROL MESSAGE: Checking health of destination Firehose.")), []byte(lineAccept)},
			rows:    []string{acct + def + lineAccept},
			control: 1,
		},
		{
			name: "corrupt gzip",
			msgs: [][]byte{corrupt, []byte(lineAccept)},
			rows: []string{acct + def + lineAccept},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, corrupt}},
		},
		{
			name: "truncated gzip",
			msgs: [][]byte{truncated},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, truncated}},
		},
		{
			name: "base64 gzip",
			msgs: [][]byte{b64(gz(t, lineAccept+"\n"+lineNoData)), append(b64(gz(t, lineSkipData)), '\n')},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData, row("210987654321", "us-east-1", lineSkipData)},
		},
		{
			name:  "base64 gzip CloudWatch Logs (Kinesis framing)",
			topic: "cw",
			msgs:  [][]byte{b64(gz(t, cwJSON(t, "DATA_MESSAGE", "111122223333", lineNoAccount1, lineNoAccount2)))},
			rows:  []string{row("111122223333", "us-east-1", lineNoAccount1), row("111122223333", "us-east-1", lineNoAccount2)},
		},
		{
			name: "base64 gzip magic then junk, and base64 of text",
			msgs: [][]byte{[]byte("H4sIbm90IGd6aXA="), []byte("H4sI not base64"), b64([]byte(lineAccept))},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, nil}, {1, 1, schema.ReasonFieldCount, nil}, {2, 1, schema.ReasonFieldCount, nil}},
		},
		{
			name: "base64 of corrupt gzip",
			msgs: [][]byte{b64(corrupt)},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, b64(corrupt)}},
		},
		{
			name:  "awslogs wrapper (Lambda event)",
			topic: "cw",
			msgs: [][]byte{
				awslogs(t, cwJSON(t, "DATA_MESSAGE", "111122223333", lineNoAccount1, lineNoAccount3)),
				gz(t, string(awslogs(t, cwJSON(t, "DATA_MESSAGE", "444455556666", lineNoAccount2)))),
				awslogs(t, cwJSON(t, "CONTROL_MESSAGE", "", "CWL CONTROL MESSAGE")),
			},
			rows: []string{row("111122223333", "us-east-1", lineNoAccount1), row("111122223333", "us-east-1", lineNoAccount3),
				row("444455556666", "us-east-1", lineNoAccount2)},
			control: 1,
		},
		{
			name: "awslogs wrapper with bad data",
			msgs: [][]byte{
				[]byte(`{"awslogs":{"data":"not base64!"}}`),
				[]byte(`{"awslogs":{}}`),
				[]byte(`{"awslogs":{"data":"` + string(b64(gz(t, `{"hello":"world"}`))) + `"}}`),
				[]byte(`{"awslogs":{"data":"` + string(b64(corrupt)) + `"}}`),
			},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, nil}, {1, 0, schema.ReasonBadEnvelope, nil},
				{2, 0, schema.ReasonBadEnvelope, nil}, {3, 0, schema.ReasonBadEnvelope, nil}},
		},
		{
			name: "JSON that is no CloudWatch payload, and broken JSON",
			msgs: [][]byte{[]byte(`{"messageType":"OTHER"}`), gz(t, `{"logEvents":[`), []byte(" {not json")},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, nil}, {1, 0, schema.ReasonBadEnvelope, nil}, {2, 0, schema.ReasonBadEnvelope, nil}},
		},
		{
			name: "binary data is a bad envelope, a control character a bad line",
			msgs: [][]byte{{0x00, 0x01, 0x02, 'a', 'b'}, {0x28, 0xb5, 0x2f, 0xfd, 0x00}, []byte(lineAccept + "\n\x00\x00"),
				gz(t, "\x00\x01binary"), {0x04, 0x22, 0x4d, 0x18, 'x'}, []byte(lineAccept + "\n\x01\x02 x\n")},
			rows: []string{acct + def + lineAccept},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, nil}, {1, 0, schema.ReasonBadEnvelope, nil}, {2, 0, schema.ReasonBadEnvelope, nil},
				{3, 0, schema.ReasonBadEnvelope, nil}, {4, 0, schema.ReasonBadEnvelope, nil}, {5, 2, schema.ReasonFieldCount, []byte("\x01\x02 x")}},
		},
		{
			name: "header line selects the format",
			msgs: [][]byte{[]byte(v5Header + "\n" + v5Line + "\n"), []byte(schema.DefaultFormat.Header() + "\r\n" + lineAccept + "\r\n" + schema.DefaultFormat.Header() + "\r\n")},
			rows: []string{row("123456789012", "ap-southeast-2", v5Line), acct + def + lineAccept},
		},
		{
			name: "header only applies to its own message",
			msgs: [][]byte{[]byte(v5Header), []byte(v5Line)},
			dead: []wantDead{{1, 1, schema.ReasonFieldCount, []byte(v5Line)}},
		},
		{
			name: "unknown header",
			msgs: [][]byte{[]byte("version account-id no-such-field start\n" + lineAccept)},
			rows: []string{acct + def + lineAccept},
			dead: []wantDead{{0, 1, schema.ReasonBadHeader, []byte("version account-id no-such-field start")}},
		},
		{
			name: "newer field in a header needs the switch",
			msgs: [][]byte{[]byte("version account-id resource-id start end\n2 123456789012 r-1 1418530010 1418530070")},
			dead: []wantDead{{0, 1, schema.ReasonBadHeader, nil}, {0, 2, schema.ReasonFieldCount, nil}},
		},
		{
			name: "empty messages",
			msgs: [][]byte{{}, []byte("\n\r\n  \n"), gz(t, ""), []byte(lineAccept)},
			rows: []string{acct + def + lineAccept},
			dead: []wantDead{{0, 0, schema.ReasonBadEnvelope, []byte{}}, {1, 0, schema.ReasonBadEnvelope, nil}, {2, 0, schema.ReasonBadEnvelope, nil}},
		},
		{
			name: "a 10 MB line, then the pipeline goes on",
			msgs: [][]byte{bigMsg, bigGz, []byte(lineSkipData)},
			rows: []string{acct + def + lineAccept, acct + def + lineNoData, row("210987654321", "us-east-1", lineSkipData)},
			// A line larger than a message's dead-letter bytes is kept
			// through the summary, which holds the message as read (the
			// gzip stays 10 KB instead of a 10 MB copy).
			dead: []wantDead{{0, 2, schema.ReasonDeadLetterLimit, bigMsg}, {1, 1, schema.ReasonDeadLetterLimit, bigGz}},
		},
		{
			name: "invalid UTF-8 keeps the raw bytes",
			msgs: [][]byte{append(append([]byte(lineAccept+"\n"), badUTF8...), "\n"...)},
			rows: []string{acct + def + lineAccept},
			dead: []wantDead{{0, 2, schema.ReasonBadUTF8, badUTF8}},
		},
		{
			name: "path injection through account-id",
			msgs: [][]byte{
				[]byte(strings.Replace(lineAccept, "123456789010", "../../x", 1)),
				[]byte(strings.Replace(lineAccept, "123456789010", "123456789010/../../x", 1)),
				[]byte(strings.Replace(lineAccept, "123456789010", "..", 1)),
			},
			dead: []wantDead{{0, 1, schema.ReasonBadAccount, nil}, {1, 1, schema.ReasonBadAccount, nil}, {2, 1, schema.ReasonBadAccount, nil}},
		},
		{
			name:  "path injection through region",
			topic: "regional",
			msgs: [][]byte{[]byte("4 123456789012 us-east-1/../../x 1418530010 1418530070 OK\n" +
				"4 123456789012 ../../etc 1418530010 1418530070 OK\n" +
				"4 123456789012 eu-west-1 1418530010 1418530070 OK\n" +
				"4 123456789012 us-east-1%2f.. 1418530010 1418530070 OK")},
			rows: []string{row("123456789012", "eu-west-1", "4 123456789012 eu-west-1 1418530010 1418530070 OK")},
			dead: []wantDead{{0, 1, schema.ReasonBadRegion, nil}, {0, 2, schema.ReasonBadRegion, nil}, {0, 4, schema.ReasonBadRegion, nil}},
		},
		{
			name:  "path injection through the CloudWatch owner",
			topic: "cw",
			msgs: [][]byte{
				gz(t, cwJSON(t, "DATA_MESSAGE", "../x", lineNoAccount1, lineNoAccount2)),
				awslogs(t, cwJSON(t, "DATA_MESSAGE", "111122223333/../../x", lineNoAccount1)),
			},
			dead: []wantDead{{0, 0, schema.ReasonBadAccount, nil}, {1, 0, schema.ReasonBadAccount, nil}},
		},
	}
	cfg := Config{
		Workers: 2, Region: "us-east-1",
		Formats: map[string]*schema.Format{
			"cw":       schema.MustParseFormat(noAccountFormat),
			"regional": schema.MustParseFormat(regionFormat),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := tt.topic
			if topic == "" {
				topic = "flows"
			}
			c := NewChunk(topic, 3, messages(0, tt.msgs...))
			runPool(t, cfg, c)
			checkChunk(t, c)

			want := slices.Clone(tt.rows)
			slices.Sort(want)
			if got := rowsOf(c); !slices.Equal(got, want) {
				t.Errorf("rows:\n got %q\nwant %q", got, want)
			}
			if len(c.Dead) != len(tt.dead) {
				for _, d := range c.Dead {
					t.Logf("dead: offset %d line %d %s: %s", d.Offset, d.Line, d.Reason, clipDetail(d.Detail))
				}
				t.Fatalf("%d dead letters, want %d", len(c.Dead), len(tt.dead))
			}
			for i, w := range tt.dead {
				d := c.Dead[i]
				if d.Offset != w.offset || d.Line != w.line || d.Reason != w.reason {
					t.Errorf("dead letter %d: offset %d line %d %s (%s), want offset %d line %d %s",
						i, d.Offset, d.Line, d.Reason, clipDetail(d.Detail), w.offset, w.line, w.reason)
				}
				if d.Detail == "" || !d.Time.Equal(msgTime) {
					t.Errorf("dead letter %d: detail %q, time %v", i, d.Detail, d.Time)
				}
				if w.raw != nil && !bytes.Equal(d.Raw, w.raw) {
					t.Errorf("dead letter %d: raw %q, want %q", i, clipDetail(string(d.Raw)), clipDetail(string(w.raw)))
				}
				if w.line == 0 && !bytes.Equal(d.Raw, tt.msgs[w.offset]) {
					t.Errorf("dead letter %d rejects the whole message but keeps %d bytes of %d", i, len(d.Raw), len(tt.msgs[w.offset]))
				}
			}
			if c.Stats.Control != tt.control {
				t.Errorf("Control %d, want %d", c.Stats.Control, tt.control)
			}
			if c.Stats.Skipped != 0 {
				t.Errorf("Skipped %d without a Skip", c.Stats.Skipped)
			}
		})
	}
}

func clipDetail(s string) string {
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// TestPoolSkip checks that records already durable before a restart are
// skipped, counted, and still balance Records == Rows + Dead + Skipped.
func TestPoolSkip(t *testing.T) {
	cfg := Config{Workers: 1, Region: "us-east-1"}
	p, err := NewPool(withTestClock(cfg), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := SkipKeyOf(GroupKey{Account: "123456789010", Region: "us-east-1", Hour: schema.HourOf(1418530010), Layout: p.Layout(schema.DefaultFormat)})
	skip := &Skip{Groups: map[SkipKey]schema.Pos{key: {Offset: 10, Line: 2}}, Dead: schema.Pos{Offset: 10, Line: 3}, HasDead: true}
	msg := []byte(lineAccept + "\n" + lineAccept + "\nbad\n" + lineAccept + "\nbad")
	c := NewChunk("flows", 0, messages(10, msg, msg))
	c.Skip = skip
	runPool(t, cfg, c)
	checkChunk(t, c)
	// Offset 10: lines 1-2 rows skipped, line 3 dead skipped, line 4 row
	// kept, line 5 dead kept. Offset 11: all kept.
	if s := c.Stats; s.Skipped != 3 || s.Rows != 4 || s.Dead != 3 || s.Records != 10 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDecodeEnvelopeKinds(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want Envelope
	}{
		{"text", []byte(lineAccept), EnvelopeText},
		{"gzip", gz(t, lineAccept), EnvelopeGzip},
		{"base64 gzip", b64(gz(t, lineAccept)), EnvelopeBase64Gzip},
		{"cloudwatch json", []byte(cwJSON(t, "DATA_MESSAGE", "111122223333", lineAccept)), EnvelopeCloudWatch},
		{"cloudwatch gzip", gz(t, cwJSON(t, "DATA_MESSAGE", "111122223333", lineAccept)), EnvelopeCloudWatch},
		{"cloudwatch base64 gzip", b64(gz(t, cwJSON(t, "DATA_MESSAGE", "111122223333", lineAccept))), EnvelopeCloudWatch},
		{"awslogs", awslogs(t, cwJSON(t, "DATA_MESSAGE", "111122223333", lineAccept)), EnvelopeCloudWatch},
	}
	var d decoder
	for _, tt := range tests {
		got, err := d.decode(tt.msg)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.envelope != tt.want {
			t.Errorf("%s: envelope %s, want %s", tt.name, got.envelope, tt.want)
		}
	}
}

// TestDecodeReuseDoesNotLeak checks that a decoder reusing its JSON state
// never lends a message values of the one before.
func TestDecodeReuseDoesNotLeak(t *testing.T) {
	var d decoder
	first := cwJSON(t, "DATA_MESSAGE", "111122223333", lineAccept, lineNoData, lineSkipData)
	if _, err := d.decode([]byte(first)); err != nil {
		t.Fatal(err)
	}
	got, err := d.decode([]byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.cw.Owner != "" || len(got.cw.LogEvents) != 1 || got.cw.LogEvents[0].Timestamp != 0 || got.cw.LogEvents[0].Message != "x" {
		t.Fatalf("second payload inherits from the first: %+v", *got.cw)
	}
	got, err = d.decode(awslogs(t, `{"messageType":"DATA_MESSAGE","owner":"444455556666","logEvents":[{"timestamp":5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.cw.Owner != "444455556666" || len(got.cw.LogEvents) != 1 || got.cw.LogEvents[0].Timestamp != 5 || got.cw.LogEvents[0].Message != "" {
		t.Fatalf("wrapped payload: %+v", *got.cw)
	}
}

func TestDecodeGzipBomb(t *testing.T) {
	d := decoder{maxBytes: 1 << 20}
	bomb := gz(t, strings.Repeat("0", 2<<20))
	if _, err := d.decode(bomb); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("gzip bomb: err %v", err)
	}
	if _, err := d.decode(b64(bomb)); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("base64 gzip bomb: err %v", err)
	}
	// The decoder is still usable.
	if got, err := d.decode(gz(t, lineAccept)); err != nil || string(got.text) != lineAccept {
		t.Fatalf("after a bomb: %q, %v", got.text, err)
	}
}

func TestPlainTextPathDoesNotAllocate(t *testing.T) {
	p, err := NewPool(withTestClock(Config{Workers: 1, Region: "us-east-1"}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := p.newWorker()
	msg := []byte(strings.Repeat(lineAccept+"\n", 200))
	c := NewChunk("flows", 0, messages(0, msg))
	w.process(c) // warm up: the group's block grows to size
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
		t.Fatalf("%.1f allocations per 200-record message, want 0", allocs)
	}
	if c.Stats.Rows != 200 {
		t.Fatalf("rows %d", c.Stats.Rows)
	}
}
