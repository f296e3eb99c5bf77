package generate

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"flowlake/schema"
)

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// cwPayload is the decoded CloudWatch Logs subscription payload.
type cwPayload struct {
	MessageType         string   `json:"messageType"`
	Owner               string   `json:"owner"`
	LogGroup            string   `json:"logGroup"`
	LogStream           string   `json:"logStream"`
	SubscriptionFilters []string `json:"subscriptionFilters"`
	LogEvents           []struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	} `json:"logEvents"`
}

var reEventID = regexp.MustCompile(`^\d{56}$`)

// decodeLines turns a message of any envelope back into its record lines.
// For CloudWatch payloads it also returns the events' timestamps.
func decodeLines(t *testing.T, env string, m genMsg, header string, ids map[string]bool) ([]string, []int64) {
	t.Helper()
	switch env {
	case EnvelopeText:
		return strings.Split(string(m.value), "\n"), nil
	case EnvelopeHeader:
		first, rest, _ := strings.Cut(string(m.value), "\n")
		if first != header || !schema.LooksLikeHeader([]byte(first)) {
			t.Fatalf("header line %q, want %q", first, header)
		}
		lines := strings.Split(rest, "\n")
		for _, l := range lines {
			if schema.LooksLikeHeader([]byte(l)) {
				t.Fatalf("record %q looks like a header", l)
			}
		}
		return lines, nil
	case EnvelopeGzip:
		return strings.Split(string(gunzip(t, m.value)), "\n"), nil
	}
	var p cwPayload
	if err := json.Unmarshal(gunzip(t, m.value), &p); err != nil {
		t.Fatalf("CloudWatch payload: %v", err)
	}
	acct, eni, _ := strings.Cut(string(m.key), "/")
	if p.MessageType != "DATA_MESSAGE" || p.Owner != acct || p.LogStream != eni+"-all" ||
		!strings.HasPrefix(p.LogGroup, "vpc-flow-logs-") || len(p.SubscriptionFilters) != 1 {
		t.Fatalf("payload header %+v for key %s", p, m.key)
	}
	var lines []string
	var stamps []int64
	for i, ev := range p.LogEvents {
		if !reEventID.MatchString(ev.ID) || ids[ev.ID] {
			t.Fatalf("event id %q malformed or repeated", ev.ID)
		}
		ids[ev.ID] = true
		if m.lines[i].bad == "" && ev.Timestamp%1000 != 0 {
			t.Fatalf("timestamp %d is not whole seconds", ev.Timestamp)
		}
		lines = append(lines, ev.Message)
		stamps = append(stamps, ev.Timestamp)
	}
	return lines, stamps
}

// TestEnvelopes decodes every envelope back to the records, and checks
// they are the text envelope's records for the same seed.
func TestEnvelopes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines int
		bad   float64
	}{
		{"single", 1, 0},
		{"batched", 25, 0},
		{"batched with bad lines", 25, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := Config{Records: 2000, LinesPerMsg: tc.lines, Seed: 5, Start: testStart, Format: formatV5, BadRatio: tc.bad}
			_, want := generateAll(t, base)
			for _, env := range []string{EnvelopeText, EnvelopeHeader, EnvelopeGzip, EnvelopeCloudWatch} {
				cfg := base
				cfg.Envelope = env
				_, got := generateAll(t, cfg)
				if len(got) != len(want) {
					t.Fatalf("%s: %d messages, text has %d", env, len(got), len(want))
				}
				ids := map[string]bool{}
				p := schema.NewParser(formatV5, 0)
				var rec schema.Record
				for i, m := range got {
					if !bytes.Equal(m.key, want[i].key) {
						t.Fatalf("%s: message %d key %s, text has %s", env, i, m.key, want[i].key)
					}
					lines, stamps := decodeLines(t, env, m, formatV5.Header(), ids)
					if len(lines) != len(want[i].lines) {
						t.Fatalf("%s: message %d has %d records, want %d", env, i, len(lines), len(want[i].lines))
					}
					for j, l := range lines {
						exp := want[i].lines[j]
						err := p.Parse([]byte(l), &rec)
						switch {
						case exp.bad == "" && l != string(exp.text):
							t.Fatalf("%s: record %q, text envelope has %q", env, l, exp.text)
						case exp.bad == "" && err != nil:
							t.Fatalf("%s: %q: %v", env, l, err)
						case exp.bad != "" && err == nil:
							t.Fatalf("%s: bad line %q parsed", env, l)
						case stamps != nil && exp.bad == "" && rec.Int[schema.Start]*1000 != stamps[j]:
							t.Fatalf("event timestamp %d is not start*1000 for %q", stamps[j], l)
						}
						var pe *schema.ParseError
						if errors.As(err, &pe) && env == EnvelopeCloudWatch && pe.Reason == schema.ReasonBadUTF8 {
							t.Fatalf("invalid UTF-8 in a CloudWatch payload: %q", l)
						}
					}
				}
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", `q"uote\back`, "tab\tnl\nctl\x01", "bad\xff\xfeutf8", "é ünï"} {
		got := appendJSONString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q round-trips to %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

// TestWriteText: plain text, one record per line, the same records as the
// text envelope.
func TestWriteText(t *testing.T) {
	cfg := Config{Records: 3001, LinesPerMsg: 4, Seed: 8, Start: testStart, Envelope: EnvelopeGzip, BadRatio: 0.01}
	_, msgs := generateAll(t, Config{Records: cfg.Records, LinesPerMsg: cfg.LinesPerMsg, Seed: cfg.Seed, Start: cfg.Start, BadRatio: cfg.BadRatio})
	var want bytes.Buffer
	for _, m := range msgs {
		want.Write(m.value)
		want.WriteByte('\n')
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteText(context.Background(), &got, g); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatal("WriteText differs from the text envelope")
	}
	if st := g.Stats(); st.Records != int64(cfg.Records) || st.Bytes != int64(got.Len()) {
		t.Fatalf("stats %+v, wrote %d bytes", st, got.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g, _ = New(cfg)
	if err := WriteText(ctx, io.Discard, g); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteText with a cancelled context: %v", err)
	}
}
