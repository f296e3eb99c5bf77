package pipeline_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/pipeline"
	"flowlake/schema"
	"flowlake/stages/generate"
)

// TestShipperEnvelopesEndToEnd mixes, in one topic, raw lines, Filebeat
// and Vector events ("message"), Fluent Bit events ("log"), and events
// without the field: every line arrives once, every bad event is a dead
// letter with its offset and line.
func TestShipperEnvelopesEndToEnd(t *testing.T) {
	env := testenv.Kafka(t, "flows", 2)
	g, err := generate.New(generate.Config{Records: 6000, LinesPerMsg: 3, Accounts: 2, Hours: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	var want []string
	bad := 0
	for i := 0; ; i++ {
		msg, _, _, ok := g.Next(nil)
		if !ok {
			break
		}
		lines := strings.Split(strings.TrimRight(string(msg), "\n"), "\n")
		want = append(want, lines...)
		var value strings.Builder
		switch i % 4 {
		case 0: // raw
			value.WriteString(strings.Join(lines, "\n"))
		case 1, 2: // Filebeat/Vector "message", Fluent Bit "log" with its newline
			field, suffix := "message", ""
			if i%4 == 2 {
				field, suffix = "log", "\n"
			}
			for _, l := range lines {
				b, _ := json.Marshal(map[string]any{field: l + suffix, "@timestamp": "2024-05-01T00:00:00Z", "host": map[string]string{"name": "h"}})
				value.Write(b)
				value.WriteByte('\n')
			}
		case 3: // one event per message, plus an event without the field
			b, _ := json.Marshal(map[string]any{"message": lines[0]})
			value.Write(b)
			fmt.Fprintf(&value, "\n{\"msg\":%q}", strings.Join(lines[1:], " "))
			want = append(want[:len(want)-len(lines)], lines[0])
			bad++
		}
		msgs = append(msgs, kafka.Message{Value: []byte(value.String())})
	}
	env.ProduceBalanced(t, msgs)
	dir := t.TempDir()
	p := runToIdle(t, testConfig(env, "shipper"), pipeline.Deps{Sink: localSink(t, dir)})
	got, _ := readLake(t, dir, schema.DefaultFormat)
	diffMultisets(t, want, got)
	st := p.Stats()
	if st.DeadLetters != int64(bad) || st.DeadByReason[string(schema.ReasonBadEnvelope)] != int64(bad) {
		t.Fatalf("dead letters %d (%v), want %d bad_envelope", st.DeadLetters, st.DeadByReason, bad)
	}
	if st.Records != st.Rows+st.DeadLetters || st.Rows != int64(len(want)) {
		t.Fatalf("stats %+v, want %d rows", st, len(want))
	}
	// Every dead letter is the event line 2 of its message, raw.
	n := 0
	for _, rec := range readDeadLetterFiles(t, dir) {
		if rec.Line != 2 || rec.Reason != string(schema.ReasonBadEnvelope) || rec.Raw == nil || !strings.HasPrefix(*rec.Raw, `{"msg":`) {
			t.Fatalf("dead letter %+v", rec)
		}
		n++
	}
	if n != bad {
		t.Fatalf("%d dead letters in the sink, want %d", n, bad)
	}
}
