package pipeline_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/pipeline"
	"flowlake/schema"
	"flowlake/stages/deadletter"
	"flowlake/stages/generate"
)

// dlScenario is a topic's worth of messages with, for every record, where
// it must end up: a row (rendered "<columns>|<values>") or a dead letter.
type dlScenario struct {
	msgs []kafka.Message
	rows []string
	dead []wantLetter
	// next is the next offset per partition (the topic starts empty).
	next       map[int]int64
	partitions int
}

type wantLetter struct {
	Partition int
	Offset    int64
	Line      int32
	Reason    string
	Raw       []byte
	// Counted is the reason metrics count, when not Reason (a summary
	// counts the reasons of the records it stands for).
	Counted string
}

func (w wantLetter) key() string {
	return fmt.Sprintf("%d/%d/%d/%s", w.Partition, w.Offset, w.Line, w.Reason)
}

// rowKey renders a row the way readLakeLayouts does.
func rowKey(f *schema.Format, line string) string {
	return strings.ReplaceAll(f.Header(), "-", "_") + "|" + line
}

// add appends a message to partition p, returning its offset.
func (s *dlScenario) add(p int, value []byte) int64 {
	off := s.next[p]
	s.next[p]++
	s.msgs = append(s.msgs, kafka.Message{Partition: p, Value: bytes.Clone(value)})
	return off
}

// expectLines classifies the lines of a text message (or the events of a
// CloudWatch one) with the parser as oracle; the generator's own counts are
// checked against the oracle's by the caller.
func (s *dlScenario) expectLines(t *testing.T, p int, off int64, lines []string, byReason map[schema.Reason]int64) {
	t.Helper()
	parser := schema.NewParser(schema.DefaultFormat, 0)
	var r schema.Record
	for i, l := range lines {
		if err := parser.Parse([]byte(l), &r); err != nil {
			reason := err.(*schema.ParseError).Reason
			byReason[reason]++
			s.dead = append(s.dead, wantLetter{Partition: p, Offset: off, Line: int32(i + 1), Reason: string(reason), Raw: []byte(l)})
			continue
		}
		s.rows = append(s.rows, rowKey(schema.DefaultFormat, l))
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// addGenerated produces a generator's messages round-robin over the
// partitions, and checks that the oracle finds exactly the bad records the
// generator says it made.
func (s *dlScenario) addGenerated(t *testing.T, cfg generate.Config) {
	t.Helper()
	g, err := generate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byReason := map[schema.Reason]int64{}
	for i := 0; ; i++ {
		msg, _, _, ok := g.Next(nil)
		if !ok {
			break
		}
		p := i % s.partitions
		off := s.add(p, msg)
		var lines []string
		switch cfg.Envelope {
		case "", generate.EnvelopeText:
			lines = strings.Split(string(msg), "\n")
		case generate.EnvelopeCloudWatch:
			zr, err := gzip.NewReader(bytes.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			js, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			var payload struct {
				LogEvents []struct{ Message string } `json:"logEvents"`
			}
			if err := json.Unmarshal(js, &payload); err != nil {
				t.Fatal(err)
			}
			for _, e := range payload.LogEvents {
				lines = append(lines, e.Message)
			}
		default:
			t.Fatalf("envelope %s not handled by the test", cfg.Envelope)
		}
		s.expectLines(t, p, off, lines, byReason)
	}
	st := g.Stats()
	if st.Bad == 0 {
		t.Fatalf("generator made no bad record")
	}
	for reason, n := range st.BadByReason {
		if byReason[reason] != n {
			t.Fatalf("generator made %d %s records, the parser finds %d", n, reason, byReason[reason])
		}
	}
}

// addHandMade adds the bad messages the generator cannot make, each
// between good records of the same partition.
func (s *dlScenario) addHandMade(t *testing.T) {
	t.Helper()
	const good = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 %d %d ACCEPT OK"
	now := time.Now().Add(-2 * time.Hour).Unix()
	goodLine := func(i int) string { return fmt.Sprintf(good, now+int64(i), now+int64(i)+60) }
	def := schema.DefaultFormat
	for p := 0; p < s.partitions; p++ {
		// A corrupt gzip stream: the whole message is dead.
		corrupt := gzipBytes(t, []byte(goodLine(1)))
		corrupt = append(corrupt[:14:14], bytes.Repeat([]byte{0x5a}, 64)...)
		off := s.add(p, corrupt)
		s.dead = append(s.dead, wantLetter{p, off, 0, string(schema.ReasonBadEnvelope), corrupt, ""})

		// A 10 MB line between two good ones, gzipped so that Kafka
		// (1 MiB messages) carries it.
		big := "2 123456789010 eni-1 " + strings.Repeat("x", 10<<20)
		bigGz := gzipBytes(t, []byte(goodLine(2)+"\n"+big+"\n"+goodLine(3)+"\n"))
		off = s.add(p, bigGz)
		s.rows = append(s.rows, rowKey(def, goodLine(2)), rowKey(def, goodLine(3)))
		// Past a message's dead-letter bytes, the line is kept through the
		// summary, which holds the message as read: 10 KB, not 10 MB.
		s.dead = append(s.dead, wantLetter{p, off, 2, string(schema.ReasonDeadLetterLimit), bigGz, string(schema.ReasonTooLong)})

		// Invalid UTF-8, kept byte for byte.
		bad := goodLine(4)[:40] + "\xff\xfe\x80" + goodLine(4)[40:]
		off = s.add(p, []byte(goodLine(5)+"\r\n"+bad+"\r\n"))
		s.rows = append(s.rows, rowKey(def, goodLine(5)))
		s.dead = append(s.dead, wantLetter{p, off, 2, string(schema.ReasonBadUTF8), []byte(bad), ""})

		// Path injection through account-id, through a region of a
		// header-selected format, and through the CloudWatch owner.
		inj := strings.Replace(goodLine(6), "123456789010", "../../x", 1)
		off = s.add(p, []byte(inj))
		s.dead = append(s.dead, wantLetter{p, off, 1, string(schema.ReasonBadAccount), []byte(inj), ""})

		hdr := "version account-id region start end log-status"
		rf, err := schema.ParseHeader([]byte(hdr))
		if err != nil {
			t.Fatal(err)
		}
		okRegion := fmt.Sprintf("4 123456789012 eu-west-1 %d %d OK", now+7, now+67)
		badRegion := fmt.Sprintf("4 123456789012 us-east-1/../../x %d %d OK", now+8, now+68)
		off = s.add(p, []byte(hdr+"\n"+okRegion+"\n"+badRegion+"\n"))
		s.rows = append(s.rows, rowKey(rf, okRegion))
		s.dead = append(s.dead, wantLetter{p, off, 3, string(schema.ReasonBadRegion), []byte(badRegion), ""})

		cw := gzipBytes(t, []byte(`{"messageType":"DATA_MESSAGE","owner":"../x","logGroup":"g","logStream":"eni-1-all","logEvents":[{"id":"1","timestamp":1,"message":"`+goodLine(9)+`"}]}`))
		off = s.add(p, cw)
		s.dead = append(s.dead, wantLetter{p, off, 0, string(schema.ReasonBadAccount), cw, ""})

		// Good records after all that: the partition keeps going.
		s.add(p, []byte(goodLine(10)))
		s.rows = append(s.rows, rowKey(def, goodLine(10)))
	}
}

func newScenario(t *testing.T, partitions int) *dlScenario {
	t.Helper()
	s := &dlScenario{next: map[int]int64{}, partitions: partitions}
	s.addGenerated(t, generate.Config{Records: 12_000, LinesPerMsg: 6, Accounts: 3, Hours: 2, Seed: 21, BadRatio: 0.04})
	s.addHandMade(t)
	s.addGenerated(t, generate.Config{Records: 4_000, LinesPerMsg: 4, Accounts: 3, Hours: 2, Seed: 22, BadRatio: 0.04,
		Envelope: generate.EnvelopeCloudWatch})
	return s
}

// readLakeLayouts reads every Parquet file and renders each row as
// "<columns>|<values>", whatever the file's layout.
func readLakeLayouts(t *testing.T, dir string) []string {
	t.Helper()
	var rows []string
	for rel, f := range testenv.ReadParquetDir(t, dir) {
		if !keyRE.MatchString(rel) {
			t.Fatalf("key %s does not follow the Hive layout", rel)
		}
		var cols []string
		for _, c := range f.Columns {
			cols = append(cols, c.Name)
		}
		prefix := strings.Join(cols, " ") + "|"
		for _, r := range f.RowStrings(cols) {
			rows = append(rows, prefix+r)
		}
	}
	return rows
}

var dlKeyRE = regexp.MustCompile(`^_dead_letters/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/flows_\d+_[0-9a-f]{16}\.jsonl$`)

// readDeadLetterFiles reads every JSON Lines dead letter under the sink.
func readDeadLetterFiles(t *testing.T, dir string) []deadletter.Record {
	t.Helper()
	var out []deadletter.Record
	root := filepath.Join(dir, "_dead_letters")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !dlKeyRE.MatchString(filepath.ToSlash(rel)) {
			return fmt.Errorf("dead-letter key %s", rel)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var r deadletter.Record
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			out = append(out, r)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLetters matches the dead letters found against the expected ones,
// exactly once each, raw bytes included (up to a truncation the record
// declares).
func checkLetters(t *testing.T, want []wantLetter, got []deadletter.Record) {
	t.Helper()
	byKey := map[string]wantLetter{}
	for _, w := range want {
		byKey[w.key()] = w
	}
	seen := map[string]bool{}
	for _, r := range got {
		k := wantLetter{r.Partition, r.Offset, r.Line, r.Reason, nil, ""}.key()
		w, ok := byKey[k]
		if !ok {
			t.Fatalf("unexpected dead letter %s: %s", k, r.Detail)
		}
		if seen[k] {
			t.Fatalf("dead letter %s written twice", k)
		}
		seen[k] = true
		if r.Topic != "flows" || r.Detail == "" || r.MessageTime == "" {
			t.Fatalf("dead letter %s: topic %q detail %q message_time %q", k, r.Topic, r.Detail, r.MessageTime)
		}
		raw, err := r.RawBytes()
		if err != nil {
			t.Fatal(err)
		}
		if r.RawTruncated {
			if r.RawSize != len(w.Raw) || !bytes.HasPrefix(w.Raw, raw) {
				t.Fatalf("dead letter %s: truncated raw is no prefix (size %d, want %d)", k, r.RawSize, len(w.Raw))
			}
		} else if !bytes.Equal(raw, w.Raw) {
			t.Fatalf("dead letter %s: raw %.80q, want %.80q", k, raw, w.Raw)
		}
	}
	if len(seen) != len(want) {
		for _, w := range want {
			if !seen[w.key()] {
				t.Errorf("missing dead letter %s", w.key())
				break
			}
		}
		t.Fatalf("%d dead letters found, want %d", len(seen), len(want))
	}
}

func checkStats(t *testing.T, st pipeline.Stats, s *dlScenario) {
	t.Helper()
	if st.Records != st.Rows+st.DeadLetters+st.Skipped {
		t.Fatalf("Records %d != Rows %d + DeadLetters %d + Skipped %d", st.Records, st.Rows, st.DeadLetters, st.Skipped)
	}
	if st.Rows != int64(len(s.rows)) || st.DeadLetters != int64(len(s.dead)) || st.Skipped != 0 {
		t.Fatalf("stats %+v, want %d rows and %d dead letters", st, len(s.rows), len(s.dead))
	}
	wantBy := map[string]int64{}
	for _, d := range s.dead {
		if d.Counted != "" {
			wantBy[d.Counted]++
			continue
		}
		wantBy[d.Reason]++
	}
	for r, n := range wantBy {
		if st.DeadByReason[r] != n {
			t.Errorf("DeadByReason[%s] = %d, want %d", r, st.DeadByReason[r], n)
		}
	}
	if len(st.DeadByReason) != len(wantBy) {
		t.Errorf("DeadByReason %v, want %v", st.DeadByReason, wantBy)
	}
}

func TestDeadLettersEndToEnd(t *testing.T) {
	env := testenv.Kafka(t, "flows", 3)
	s := newScenario(t, env.Partitions)
	env.Produce(t, s.msgs)

	dir := t.TempDir()
	p := runToIdle(t, testConfig(env, "dlq-e2e"), pipeline.Deps{Sink: localSink(t, dir)})

	rows := readLakeLayouts(t, dir)
	diffMultisets(t, s.rows, rows)
	letters := readDeadLetterFiles(t, dir)
	checkLetters(t, s.dead, letters)
	checkStats(t, p.Stats(), s)
	// On disk too: records in = rows written + dead letters written.
	if in := int64(len(s.rows) + len(s.dead)); int64(len(rows)+len(letters)) != in || p.Stats().Records != in {
		t.Fatalf("records in %d (stats %d), on disk %d rows + %d dead letters", in, p.Stats().Records, len(rows), len(letters))
	}
	// Everything is committed: bad messages did not stall any partition.
	committed, end := env.CommittedOffsets(t, "dlq-e2e"), env.EndOffsets(t)
	for part, off := range end {
		if committed[part] != off {
			t.Fatalf("partition %d committed %d, end %d", part, committed[part], off)
		}
	}
	t.Logf("%d rows, %d dead letters by reason %v", len(rows), len(letters), p.Stats().DeadByReason)
}

func TestDeadLettersToKafka(t *testing.T) {
	env := testenv.Kafka(t, "flows", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const dlqTopic = "flows-dead-letters"
	if err := env.Broker.CreateTopic(ctx, dlqTopic, 2); err != nil {
		t.Fatal(err)
	}
	s := newScenario(t, env.Partitions)
	env.Produce(t, s.msgs)

	dir := t.TempDir()
	dlq := deadletter.NewKafkaWriter(env.Brokers, dlqTopic, testLogger(t))
	t.Cleanup(func() { _ = dlq.Close() })
	p := runToIdle(t, testConfig(env, "dlq-kafka"), pipeline.Deps{Sink: localSink(t, dir), DeadLetters: dlq})

	rows := readLakeLayouts(t, dir)
	diffMultisets(t, s.rows, rows)
	if _, err := os.Stat(filepath.Join(dir, "_dead_letters")); !os.IsNotExist(err) {
		t.Fatalf("dead letters went to the sink too (%v)", err)
	}
	var letters []deadletter.Record
	for part := 0; part < 2; part++ {
		for _, m := range readPartition(t, env.Brokers, dlqTopic, part) {
			var r deadletter.Record
			if err := json.Unmarshal(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset); string(m.Key) != want {
				t.Fatalf("key %q, want %q", m.Key, want)
			}
			letters = append(letters, r)
		}
	}
	checkLetters(t, s.dead, letters)
	checkStats(t, p.Stats(), s)
	truncated := 0
	for _, r := range letters {
		if r.RawTruncated {
			truncated++
		}
	}
	// The 10 MB lines are kept through their message's summary, which
	// holds the 10 KB gzip as read: nothing needs truncating to fit Kafka.
	if truncated != 0 {
		t.Fatalf("%d truncated dead letters, want 0", truncated)
	}
}

// readPartition reads a partition from its start to its current end.
func readPartition(t *testing.T, brokers []string, topic string, partition int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	end, err := conn.ReadLastOffset()
	_ = conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []kafka.Message
	for int64(len(out)) < end {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d: %v after %d of %d", topic, partition, err, len(out), end)
		}
		out = append(out, m)
	}
	return out
}
