package hostile

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
)

// hourBase is an hour a few hours before now: records must be inside the
// default time window around the processing time.
var hourBase = time.Now().Add(-6*time.Hour).Unix() / 3600 * 3600

func line(account string, t int64) string {
	return fmt.Sprintf("2 %s eni-0a1b2c3d4e5f60718 10.0.0.1 10.0.0.2 443 51000 6 3 300 %d %d ACCEPT OK", account, t, t+60)
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func msgs(values ...[]byte) []kafka.Message {
	out := make([]kafka.Message, len(values))
	for i, v := range values {
		out[i] = kafka.Message{Value: v}
	}
	return out
}

// TestDeadLetterAmplification: a 16 KB gzip of 8 MiB of "a\n" is 4M bad
// lines, and a CloudWatch payload of 300k empty events. Before the limits
// each dead letter cost about 1 KB of RSS (gigabytes here); now the message
// keeps 100 dead letters plus one summary holding the gzip, and empty
// events are only counted.
func TestDeadLetterAmplification(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	bomb := gz(t, bytes.Repeat([]byte("a\n"), 4<<20))
	var cw strings.Builder
	cw.WriteString(`{"messageType":"DATA_MESSAGE","owner":"123456789012","logEvents":[`)
	for i := 0; i < 300_000; i++ {
		if i > 0 {
			cw.WriteByte(',')
		}
		cw.WriteString("{}")
	}
	cw.WriteString("]}")
	good := []byte(line("123456789012", hourBase+10))
	env.Produce(t, msgs(good, bomb, gz(t, []byte(cw.String())), good))

	dir := t.TempDir()
	r := runFlowlake(t, env, "amp", dir, "--max-buffered-bytes", "134217728")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, tail(r.log, 20))
	}
	o := readOutputs(t, dir)
	checkBalance(t, r, o, 2+4<<20)
	checkRSS(t, r, 400<<20)
	if len(o.letters) != 101 {
		t.Fatalf("%d dead-letter entries, want 100 kept one by one and 1 summary", len(o.letters))
	}
	sum := o.letters[len(o.letters)-1]
	raw, err := sum.RawBytes()
	if err != nil || sum.Reason != "dead_letter_limit" || sum.Records != 4<<20-100 || sum.Reasons["field_count"] != 4<<20-100 || !bytes.Equal(raw, bomb) {
		t.Fatalf("summary %s records %d reasons %v, raw %d bytes (err %v); want the whole %d-byte message", sum.Reason, sum.Records, sum.Reasons, len(raw), err, len(bomb))
	}
	if sum.Offset != 1 || sum.Line != 4<<20 {
		t.Fatalf("summary at %d/%d, want 1/%d (its last record)", sum.Offset, sum.Line, 4<<20)
	}
}

// TestPaddedHeaders: header lines padded to 32 MiB of spaces, gzipped to
// 33 KB each, once kept gigabytes in the header caches. Header lines obey
// the line limit now: each is a dead letter, kept through its message's
// summary (the 33 KB gzip, not the 32 MiB line).
func TestPaddedHeaders(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	var values [][]byte
	for i := 0; i < 6; i++ {
		hdr := "version account-id" + strings.Repeat(" ", 32<<20) + fmt.Sprintf("interface-id%d\n", i)
		values = append(values, gz(t, []byte(hdr+line("123456789012", hourBase+int64(i)))))
	}
	env.Produce(t, msgs(values...))
	dir := t.TempDir()
	r := runFlowlake(t, env, "hdr", dir, "--max-buffered-bytes", "134217728")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, tail(r.log, 20))
	}
	o := readOutputs(t, dir)
	checkBalance(t, r, o, 12)
	checkRSS(t, r, 500<<20)
	if o.rows != 6 {
		t.Fatalf("%d rows, want the 6 records after the bad headers", o.rows)
	}
	for _, l := range o.letters {
		if l.Reason != "dead_letter_limit" || l.Reasons["bad_header"] != 1 {
			t.Fatalf("dead letter %s %v, want a summary of one bad_header", l.Reason, l.Reasons)
		}
	}
}

// TestClockOutliers: records 3000 years ahead, 30 years back and 9999999999
// are time_out_of_range dead letters (no year=2286 partition), and one
// record 3 days ahead (inside the window) does not move the batch clock:
// the hours' batches are not flushed early (one file per hour, not one
// per second).
func TestClockOutliers(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	var values [][]byte
	for h := int64(0); h < 5; h++ {
		for i := 0; i < 120; i++ {
			if h == 2 && i == 60 {
				values = append(values, []byte(line("123456789012", time.Now().Add(72*time.Hour).Unix())))
				values = append(values, []byte(line("123456789012", 9_999_999_999)))
				values = append(values, []byte(line("123456789012", time.Now().AddDate(-30, 0, 0).Unix())))
			}
			values = append(values, []byte(line("123456789012", hourBase+h*3600+int64(i))))
		}
	}
	env.Produce(t, msgs(values...))
	dir := t.TempDir()
	r := runFlowlake(t, env, "clock", dir, "--batch-grace", "0s")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, tail(r.log, 20))
	}
	o := readOutputs(t, dir)
	checkBalance(t, r, o, 603)
	if len(o.letters) != 2 || o.letters[0].Reason != "time_out_of_range" || o.letters[1].Reason != "time_out_of_range" {
		t.Fatalf("dead letters %+v, want 2 time_out_of_range", o.letters)
	}
	// 5 hours plus the one 3 days ahead; the 120 records of each hour in
	// one file, so the outlier flushed nothing early.
	if len(o.files) != 6 {
		t.Fatalf("%d files, want 6: %v", len(o.files), o.files)
	}
	for _, f := range o.files {
		if strings.Contains(f, "year=2286") || strings.Contains(f, "year=19") {
			t.Fatalf("file %s in an outlier's partition", f)
		}
	}
	checkRSS(t, r, 400<<20)
}

// TestHostileValues: values shaped like paths, escape sequences, NUL, huge
// strings and zoned IPv6 addresses are dead letters with a reason each;
// no column of a written row holds a control character or "..".
func TestHostileValues(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	ok := line("123456789012", hourBase+1)
	bad := map[string]string{
		"../../etc/passwd":         "bad_id",
		"eni-\x1b[2J":              "bad_id",
		strings.Repeat("e", 60000): "bad_id",
	}
	var values [][]byte
	values = append(values, []byte(ok))
	for v := range bad {
		values = append(values, []byte(strings.Replace(ok, "eni-0a1b2c3d4e5f60718", v, 1)))
	}
	values = append(values, []byte(strings.Replace(ok, "10.0.0.1", "fe80::1%../../x", 1)))
	values = append(values, []byte(strings.Replace(ok, "10.0.0.1", "fe80::1%eth0", 1)))
	values = append(values, []byte(strings.Replace(ok, "eni-0a1b2c3d4e5f60718", "eni-\x00", 1)))
	env.Produce(t, msgs(values...))
	dir := t.TempDir()
	r := runFlowlake(t, env, "values", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, tail(r.log, 20))
	}
	o := readOutputs(t, dir)
	checkBalance(t, r, o, int64(len(values)))
	if o.rows != 1 {
		t.Fatalf("%d rows, want 1", o.rows)
	}
	reasons := map[string]int{}
	for _, l := range o.letters {
		reasons[l.Reason]++
	}
	if reasons["bad_id"] != 3 || reasons["bad_addr"] != 2 || reasons["bad_envelope"]+reasons["bad_id"] != 4 {
		t.Fatalf("reasons %v, want 3 bad_id, 2 bad_addr and the NUL one", reasons)
	}
	for _, row := range o.rowValues {
		for col, v := range row {
			if s, ok := v.(string); ok && (strings.ContainsAny(s, "\x00\x1b") || strings.Contains(s, "..")) {
				t.Fatalf("column %s holds %q", col, s)
			}
		}
	}
	checkRSS(t, r, 400<<20)
}

// payloadJSON is a CloudWatch payload with the given event messages.
func payloadJSON(t *testing.T, owner string, lines ...string) []byte {
	type ev struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	p := struct {
		MessageType string `json:"messageType"`
		Owner       string `json:"owner"`
		LogEvents   []ev   `json:"logEvents"`
	}{"DATA_MESSAGE", owner, nil}
	for i, l := range lines {
		p.LogEvents = append(p.LogEvents, ev{fmt.Sprint(i), time.Now().UnixMilli(), l})
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
