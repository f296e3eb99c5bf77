package parse

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowlake/schema"
)

// Example records from AWS's flow log documentation, and variants.
const (
	lineAccept   = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
	lineNoData   = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
	lineSkipData = "2 210987654321 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA"
	lineIPv6     = "2 123456789010 eni-1235b8ca123456789 2001:db8::1 2001:db8:0:1::10 443 51234 6 3 180 1418533610 1418533670 REJECT OK"

	// noAccountFormat lacks account-id: CloudWatch's owner places its rows.
	noAccountFormat = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
	lineNoAccount1  = "2 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
	lineNoAccount2  = "2 eni-1235b8ca123456789 172.31.16.21 172.31.16.139 22 20641 6 18 3877 1418530010 1418530070 ACCEPT OK"
	lineNoAccount3  = "2 eni-1235b8ca123456789 - - - - - - - 1418533610 1418533670 - NODATA"

	// regionFormat carries the region, so records pick their partition.
	regionFormat = "${version} ${account-id} ${region} ${start} ${end} ${log-status}"

	v5Header = "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status"
	v5Line   = "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK"
)

var msgTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// gz gzips each part as its own gzip member and concatenates the members.
func gz(t testing.TB, parts ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, p := range parts {
		w := gzip.NewWriter(&out)
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func b64(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

// cwJSON renders a CloudWatch Logs subscription payload.
func cwJSON(t testing.TB, msgType, owner string, events ...string) string {
	t.Helper()
	type event struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	p := struct {
		MessageType         string   `json:"messageType"`
		Owner               string   `json:"owner"`
		LogGroup            string   `json:"logGroup"`
		LogStream           string   `json:"logStream"`
		SubscriptionFilters []string `json:"subscriptionFilters"`
		LogEvents           []event  `json:"logEvents"`
	}{MessageType: msgType, Owner: owner, LogGroup: "vpc-flow-logs", LogStream: "eni-1235b8ca123456789-all",
		SubscriptionFilters: []string{"to-kafka"}, LogEvents: []event{}}
	for i, e := range events {
		p.LogEvents = append(p.LogEvents, event{ID: "3651234567890123456789012345678901234567890123456789012" + strconv.Itoa(i),
			Timestamp: 1418530010000, Message: e})
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// awslogs wraps a payload the way the Lambda event does.
func awslogs(t testing.TB, payload string) []byte {
	return []byte(`{"awslogs":{"data":"` + string(b64(gz(t, payload))) + `"}}`)
}

// runPool parses chunks on a real pool: NewPool, Run, Submit, Wait.
func runPool(t testing.TB, cfg Config, chunks ...*Chunk) *Pool {
	t.Helper()
	p, err := NewPool(withTestClock(cfg), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	for _, c := range chunks {
		if err := p.Submit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range chunks {
		if err := c.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return p
}

// messages turns values into messages at offsets base, base+1, ...
func messages(base int64, values ...[]byte) []Message {
	msgs := make([]Message, len(values))
	for i, v := range values {
		msgs[i] = Message{Offset: base + int64(i), Value: v, Time: msgTime}
	}
	return msgs
}

// rowsOf renders every row of c as a flow log line of its layout's format
// columns ("-" for null), prefixed by its group's account and region.
func rowsOf(c *Chunk) []string {
	var out []string
	for _, g := range c.Groups {
		b := g.Block
		for row := 0; row < b.Len(); row++ {
			var sb strings.Builder
			sb.WriteString(g.Key.Account + "|" + g.Key.Region + "|")
			for col, column := range b.Layout.Columns[:b.Layout.Format.Len()] {
				if col > 0 {
					sb.WriteByte(' ')
				}
				switch {
				case !b.Valid(col, row):
					sb.WriteByte('-')
				case column.Kind == schema.KindString:
					sb.Write(b.Bytes(col, row))
				default:
					sb.WriteString(strconv.FormatInt(b.Int(col, row), 10))
				}
			}
			out = append(out, sb.String())
		}
	}
	slices.Sort(out)
	return out
}

// checkChunk asserts what must hold for every chunk, whatever its input.
func checkChunk(t testing.TB, c *Chunk) {
	t.Helper()
	s := c.Stats
	if s.Records != s.Rows+s.Dead+s.Skipped {
		t.Fatalf("Records %d != Rows %d + Dead %d + Skipped %d", s.Records, s.Rows, s.Dead, s.Skipped)
	}
	counted, mem := int64(0), int64(0)
	perMessage := map[int64]int{}
	for i := range c.Dead {
		counted += c.Dead[i].Count()
		mem += int64(c.Dead[i].Mem())
		perMessage[c.Dead[i].Offset]++
		if c.Dead[i].Reason == schema.ReasonDeadLetterLimit && c.Dead[i].Records < 1 {
			t.Fatalf("summary dead letter stands for %d records", c.Dead[i].Records)
		}
	}
	if counted != s.Dead {
		t.Fatalf("dead letters stand for %d records, Stats.Dead %d", counted, s.Dead)
	}
	if mem != s.DeadBytes {
		t.Fatalf("dead letters hold %d bytes, Stats.DeadBytes %d", mem, s.DeadBytes)
	}
	for off, n := range perMessage {
		if n > DefaultMaxDeadPerMessage+1 {
			t.Fatalf("message %d kept %d dead letters, limit %d plus a summary", off, n, DefaultMaxDeadPerMessage)
		}
	}
	if s.Messages != int64(len(c.Msgs)) {
		t.Fatalf("Stats.Messages %d, chunk has %d", s.Messages, len(c.Msgs))
	}
	rows := int64(0)
	for _, g := range c.Groups {
		rows += int64(g.Block.Len())
		// Keys are safe in an object key: no slash, no dot-dot, ever.
		if !schema.ValidAccount([]byte(g.Key.Account)) || !schema.ValidRegion([]byte(g.Key.Region)) {
			t.Fatalf("group key %q/%q is not a valid account/region", g.Key.Account, g.Key.Region)
		}
	}
	if rows != s.Rows {
		t.Fatalf("groups hold %d rows, Stats.Rows %d", rows, s.Rows)
	}
	for _, d := range c.Dead {
		if !slices.Contains(schema.Reasons, d.Reason) {
			t.Fatalf("dead letter with unknown reason %q", d.Reason)
		}
		if d.Topic != c.Topic || d.Partition != c.Partition {
			t.Fatalf("dead letter from %s/%d in a chunk of %s/%d", d.Topic, d.Partition, c.Topic, c.Partition)
		}
		if d.Offset < c.Msgs[0].Offset || d.Offset > c.Msgs[len(c.Msgs)-1].Offset {
			t.Fatalf("dead letter offset %d outside the chunk", d.Offset)
		}
	}
}

// testNow is the processing time of tests: their records are from AWS's
// documented examples (2014 to 2021), inside the default time window of
// this clock.
var testNow = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)

// withTestClock sets the test clock unless cfg has one.
func withTestClock(cfg Config) Config {
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	return cfg
}
