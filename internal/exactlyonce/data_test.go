package exactlyonce

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/schema"
	"flowlake/stages/deadletter"
	"flowlake/stages/generate"
	"flowlake/stages/seal"
	flverify "flowlake/stages/verify"
)

// genConfig is the generator configuration the tests share: fixed start
// hour and seed, so runs are reproducible.
func genConfig(records, linesPerMsg int, seed int64, badRatio float64) generate.Config {
	return generate.Config{
		Records:     records,
		LinesPerMsg: linesPerMsg,
		Accounts:    5,
		Hours:       3,
		Start:       time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC),
		Seed:        seed,
		BadRatio:    badRatio,
	}
}

// producer writes a generator's messages to the topic, keyed by
// `<account>/<eni>` as in production. Its methods return errors instead of
// failing the test, so it can run on its own goroutine.
type producer struct {
	g  *generate.Generator
	w  *kafka.Writer
	tr *kafka.Transport

	mu       sync.Mutex
	records  int
	messages int
}

func newProducer(tb testing.TB, k *testenv.KafkaEnv, cfg generate.Config) *producer {
	tb.Helper()
	g, err := generate.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tr := &kafka.Transport{}
	p := &producer{g: g, tr: tr, w: &kafka.Writer{
		Addr:         kafka.TCP(k.Brokers...),
		Topic:        k.Topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    10000,
		BatchBytes:   1 << 20,
		BatchTimeout: time.Millisecond,
		MaxAttempts:  20,
		WriteTimeout: 30 * time.Second,
		Transport:    tr,
	}}
	tb.Cleanup(func() {
		_ = p.w.Close()
		tr.CloseIdleConnections()
	})
	return p
}

// produce writes the next n records (fewer when the generator runs out)
// and returns how many it wrote.
func (p *producer) produce(ctx context.Context, n int) (int, error) {
	var msgs []kafka.Message
	got := 0
	for got < n {
		msg, key, lines, ok := p.g.Next(nil)
		if !ok {
			break
		}
		msgs = append(msgs, kafka.Message{Key: bytes.Clone(key), Value: bytes.Clone(msg)})
		got += lines
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return 0, fmt.Errorf("produce %d messages: %w", len(msgs), err)
	}
	p.mu.Lock()
	p.records += got
	p.messages += len(msgs)
	p.mu.Unlock()
	return got, nil
}

// produceSpread writes n records in pieces spread evenly over d, so a
// consumer sees a steady stream rather than one burst.
func (p *producer) produceSpread(ctx context.Context, n, pieces int, d time.Duration) error {
	start := time.Now()
	for i := range pieces {
		want := n/pieces + boolInt(i < n%pieces)
		if _, err := p.produce(ctx, want); err != nil {
			return err
		}
		next := start.Add(d * time.Duration(i+1) / time.Duration(pieces))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(next)):
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// produced returns the records and messages written so far, and the
// generator's count of bad records it made.
func (p *producer) produced() (records, messages int, bad int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.records, p.messages, p.g.Stats().Bad
}

// background runs fn on a goroutine and returns a wait function that
// reports fn's error to the test. fn must not call t.Fatal.
func background(tb testing.TB, fn func() error) (wait func()) {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return func() {
		tb.Helper()
		if err := <-done; err != nil {
			tb.Fatalf("background producer: %v", err)
		}
	}
}

// expectation is what the output must hold, computed from the topic's
// contents with flowlake's parser as the oracle.
type expectation struct {
	records int
	rows    map[string]int // rendered row -> count
	nrows   int
	dead    map[string]wantDead // deadKey -> letter
	reasons map[string]int
	ends    map[int]int64
}

type wantDead struct {
	reason string
	raw    []byte
}

func deadKey(topic string, partition int, offset int64, line int32) string {
	return fmt.Sprintf("%s/%d/%d/%d", topic, partition, offset, line)
}

// expectFromTopic reads every message of the topic back and classifies
// each line. The caller checks the record count against the producer's.
func expectFromTopic(tb testing.TB, k *testenv.KafkaEnv) *expectation {
	tb.Helper()
	e := &expectation{rows: map[string]int{}, dead: map[string]wantDead{}, reasons: map[string]int{}, ends: k.EndOffsets(tb)}
	parser := schema.NewParser(schema.DefaultFormat, 0)
	var rec schema.Record
	for p := range k.Partitions {
		readPartition(tb, k, p, e.ends[p], func(m kafka.Message) {
			for i, line := range bytes.Split(m.Value, []byte("\n")) {
				e.records++
				if err := parser.Parse(line, &rec); err != nil {
					reason := string(err.(*schema.ParseError).Reason)
					e.dead[deadKey(k.Topic, p, m.Offset, int32(i+1))] = wantDead{reason: reason, raw: bytes.Clone(line)}
					e.reasons[reason]++
					continue
				}
				e.rows[string(line)]++
				e.nrows++
			}
		})
	}
	return e
}

// readPartition calls fn for every message of partition p below end.
func readPartition(tb testing.TB, k *testenv.KafkaEnv, p int, end int64, fn func(kafka.Message)) {
	tb.Helper()
	if end <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", k.Brokers[0], k.Topic, p)
	if err != nil {
		tb.Fatalf("read back partition %d: %v", p, err)
	}
	defer conn.Close()
	for next := int64(0); next < end; {
		if _, err := conn.Seek(next, kafka.SeekAbsolute); err != nil {
			tb.Fatalf("read back partition %d: seek %d: %v", p, next, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		b := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 200 * time.Millisecond})
		for {
			m, err := b.ReadMessage()
			if err != nil {
				break
			}
			if m.Offset < next || m.Offset >= end {
				continue
			}
			if m.Offset != next {
				tb.Fatalf("read back partition %d: offset %d after %d", p, m.Offset, next-1)
			}
			fn(m)
			next = m.Offset + 1
		}
		if err := b.Close(); err != nil {
			tb.Fatalf("read back partition %d at %d: %v", p, next, err)
		}
	}
}

// lake is everything a sink holds, read back object by object.
type lake struct {
	objects     int
	bytes       int64
	files       int      // Parquet files
	rows        []string // every row, rendered as a flow log line
	deadFiles   int
	dead        []deadletter.Record
	checkpoints map[string]checkpointFile // key -> content
	tmpFiles    []string                  // local sink temp files left by a kill
	accounts    map[string]bool           // account folders with files
	hours       map[string]bool           // YYYYMMDDHH folders with files
	// Sealing: manifests and revisions by hour folder, ledger copies, and
	// every Parquet file's rows by key (to check the manifests).
	manifests map[string][][]byte
	ledger    int
	fileRows  map[string]int64
	archive   bool // an archive's marker is there
}

func newLake() *lake {
	return &lake{checkpoints: map[string]checkpointFile{}, accounts: map[string]bool{}, hours: map[string]bool{},
		manifests: map[string][][]byte{}, fileRows: map[string]int64{}}
}

// checkpointFile is the part of a partition checkpoint the tests check.
type checkpointFile struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Next      int64  `json:"next_offset"`
	Durable   []any  `json:"durable"`
}

var (
	parquetKeyRE = regexp.MustCompile(`^AWSLogs/aws-account-id=(\d{12})/aws-service=vpcflowlogs/aws-region=([a-z0-9-]+)/year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/(\d{12})_vpcflowlogs_([a-z0-9-]+)_` + flowLogID + `_(\d{8})T(\d{2})00Z_[0-9a-f]{16}\.log\.parquet$`)
	deadKeyRE    = regexp.MustCompile(`^_dead_letters/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/[A-Za-z0-9._-]+_\d+_[0-9a-f]{16}\.jsonl$`)
	checkKeyRE   = regexp.MustCompile(`^_flowlake/checkpoints/[^/]+/[^/]+/\d+\.json$`)
	segmentKeyRE = regexp.MustCompile(`^_flowlake/checkpoints/[^/]+/[^/]+/\d+\.segments/\d+\.json$`)
	ownerKeyRE   = regexp.MustCompile(`^_flowlake/owners/[^/]+\.json$`)
	tmpNameRE    = regexp.MustCompile(`^\.tmp-.+-\d+$`)
	rowColumns   = func() []string {
		var cols []string
		for _, id := range schema.DefaultFormat.Fields() {
			cols = append(cols, schema.Fields[id].Column)
		}
		return cols
	}()
)

// add classifies and decodes one object; key is relative to the sink root.
func (l *lake) add(tb testing.TB, key string, data []byte) {
	tb.Helper()
	l.objects++
	l.bytes += int64(len(data))
	switch {
	case strings.HasPrefix(key, "AWSLogs/") && strings.HasPrefix(path.Base(key), "_flowlake_manifest"):
		l.manifests[path.Dir(key)] = append(l.manifests[path.Dir(key)], data)
	case key == flverify.ArchiveMarker:
		l.archive = true
	case strings.HasPrefix(key, seal.LedgerPrefix):
		if _, _, ok := seal.ParseLedgerKey(key); !ok {
			tb.Fatalf("object %s: unexpected name in the manifest ledger", key)
		}
		l.ledger++
	case strings.HasPrefix(key, "AWSLogs/"):
		m := parquetKeyRE.FindStringSubmatch(key)
		if m == nil {
			tb.Fatalf("object %s does not follow the Hive layout", key)
		}
		if m[1] != m[7] || m[2] != m[8] || m[9] != m[3]+m[4]+m[5] || m[10] != m[6] {
			tb.Fatalf("object %s: folders and file name disagree", key)
		}
		f := testenv.ReadParquetBytes(tb, data)
		for i, row := range f.Rows {
			if row["account_id"] != m[1] {
				tb.Fatalf("object %s row %d: account_id %v in account %s's folder", key, i, row["account_id"], m[1])
			}
		}
		l.files++
		l.fileRows[key] = int64(len(f.Rows))
		l.rows = append(l.rows, f.RowStrings(rowColumns)...)
		l.accounts[m[1]] = true
		l.hours[m[3]+m[4]+m[5]+m[6]] = true
	case strings.HasPrefix(key, "_dead_letters/"):
		if !deadKeyRE.MatchString(key) {
			tb.Fatalf("dead-letter object %s: unexpected name", key)
		}
		l.deadFiles++
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for n := 1; sc.Scan(); n++ {
			var r deadletter.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				tb.Fatalf("dead-letter object %s line %d: %v", key, n, err)
			}
			l.dead = append(l.dead, r)
		}
		if err := sc.Err(); err != nil {
			tb.Fatalf("dead-letter object %s: %v", key, err)
		}
	case ownerKeyRE.MatchString(key), segmentKeyRE.MatchString(key):
		// The sink's owner record, and checkpoint segments (durable
		// entries spilled by a checkpoint that lists them).
	case strings.HasPrefix(key, "_flowlake/"):
		if !checkKeyRE.MatchString(key) {
			tb.Fatalf("object %s: unexpected name under _flowlake/", key)
		}
		var c checkpointFile
		if err := json.Unmarshal(data, &c); err != nil {
			tb.Fatalf("checkpoint %s: %v", key, err)
		}
		l.checkpoints[key] = c
	default:
		tb.Fatalf("unexpected object %s (%d bytes) in the sink", key, len(data))
	}
}

// readLocalLake reads every file under dir. Temp files a killed Put left
// behind are listed apart (they are never renamed into place).
func readLocalLake(tb testing.TB, dir string) *lake {
	tb.Helper()
	l := newLake()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if tmpNameRE.MatchString(d.Name()) {
			l.tmpFiles = append(l.tmpFiles, rel)
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		l.add(tb, rel, data)
		return nil
	})
	if err != nil {
		tb.Fatalf("read sink directory %s: %v", dir, err)
	}
	return l
}

// readS3Lake lists the bucket under prefix through the S3 API and reads
// every object.
func readS3Lake(tb testing.TB, s *testenv.S3Server, bucket, prefix string) *lake {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client := s.Client(tb)
	l := newLake()
	var listPrefix *string
	if prefix != "" {
		listPrefix = aws.String(prefix + "/")
	}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: listPrefix})
	var keys []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			tb.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	for _, key := range keys {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			tb.Fatalf("get s3://%s/%s: %v", bucket, key, err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(out.Body)
		out.Body.Close()
		if err != nil {
			tb.Fatalf("read s3://%s/%s: %v", bucket, key, err)
		}
		rel := key
		if prefix != "" {
			rel = strings.TrimPrefix(key, prefix+"/")
		}
		l.add(tb, rel, buf.Bytes())
	}
	return l
}

// verify checks the exactly-once invariant: the rows are the expected
// multiset, each bad line is exactly one dead letter with its reason and
// bytes, and records = rows + dead letters.
func verify(tb testing.TB, want *expectation, got *lake) {
	tb.Helper()
	tb.Logf("sink: %d objects (%.1f MiB): %d Parquet files with %d rows (%d accounts, %d hours), %d dead-letter files with %d letters, %d checkpoints, %d leftover temp files",
		got.objects, float64(got.bytes)/(1<<20), got.files, len(got.rows), len(got.accounts), len(got.hours),
		got.deadFiles, len(got.dead), len(got.checkpoints), len(got.tmpFiles))
	diffRows(tb, want.rows, want.nrows, got.rows)
	checkSealed(tb, got)

	seen := map[string]int{}
	bad := 0
	for _, r := range got.dead {
		k := deadKey(r.Topic, r.Partition, r.Offset, r.Line)
		seen[k]++
		w, ok := want.dead[k]
		if !ok {
			if bad++; bad <= 3 {
				tb.Errorf("dead letter %s (%s) is not a bad line of the topic", k, r.Reason)
			}
			continue
		}
		raw, err := r.RawBytes()
		if err != nil || r.Reason != w.reason || !bytes.Equal(raw, w.raw) {
			if bad++; bad <= 3 {
				tb.Errorf("dead letter %s: reason %q raw %q, want %q %q", k, r.Reason, raw, w.reason, w.raw)
			}
		}
	}
	dup, missing := 0, 0
	for k, n := range seen {
		if n > 1 {
			if dup++; dup <= 3 {
				tb.Errorf("dead letter %s written %d times", k, n)
			}
		}
	}
	for k, w := range want.dead {
		if seen[k] == 0 {
			if missing++; missing <= 3 {
				tb.Errorf("dead letter %s (%s) missing", k, w.reason)
			}
		}
	}
	if bad > 0 || dup > 0 || missing > 0 {
		tb.Fatalf("dead letters: want %d, got %d: %d missing, %d duplicated, %d wrong", len(want.dead), len(got.dead), missing, dup, bad)
	}
	if n := len(got.rows) + len(got.dead); n != want.records {
		tb.Fatalf("records in the topic %d != rows %d + dead letters %d", want.records, len(got.rows), len(got.dead))
	}
}

// diffRows compares the rows with the expected multiset.
func diffRows(tb testing.TB, want map[string]int, nwant int, got []string) {
	tb.Helper()
	counts := maps.Clone(want)
	for _, g := range got {
		counts[g]--
	}
	missing, extra := 0, 0
	for line, c := range counts {
		switch {
		case c > 0:
			missing += c
			if missing <= 3 {
				tb.Errorf("row missing %dx: %s", c, line)
			}
		case c < 0:
			extra -= c
			if extra <= 3 {
				tb.Errorf("row written %dx too often: %s", -c, line)
			}
		}
	}
	if missing > 0 || extra > 0 {
		tb.Fatalf("rows: want %d, got %d: %d missing, %d extra", nwant, len(got), missing, extra)
	}
}

// checkCommitted checks the group's Kafka offsets and the sink's
// checkpoints both stand at the end of every non-empty partition.
func checkCommitted(tb testing.TB, k *testenv.KafkaEnv, group string, ends map[int]int64, l *lake) {
	tb.Helper()
	committed := k.CommittedOffsets(tb, group)
	for p, end := range ends {
		if end > 0 && committed[p] != end {
			tb.Errorf("partition %d: Kafka committed offset %d, end offset %d (all committed: %v)", p, committed[p], end, committed)
		}
		if l == nil || end == 0 {
			continue
		}
		key := "_flowlake/checkpoints/" + group + "/" + k.Topic + "/" + strconv.Itoa(p) + ".json"
		c, ok := l.checkpoints[key]
		switch {
		case !ok:
			tb.Errorf("partition %d: no checkpoint %s", p, key)
		case c.Next != end || len(c.Durable) != 0:
			tb.Errorf("partition %d: checkpoint next_offset %d with %d durable keys, want %d and none", p, c.Next, len(c.Durable), end)
		}
	}
	if tb.Failed() {
		tb.FailNow()
	}
}

// checkProduced checks the topic holds exactly what the producer wrote
// (a producer retry could have duplicated a batch, which would make the
// expectation differ from what the test meant to produce).
func checkProduced(tb testing.TB, want *expectation, p *producer, wantBad bool) {
	tb.Helper()
	records, messages, bad := p.produced()
	if want.records != records {
		tb.Fatalf("topic holds %d records, producer wrote %d (%d messages)", want.records, records, messages)
	}
	if int64(len(want.dead)) != bad {
		tb.Fatalf("parser finds %d bad lines (%v), generator made %d", len(want.dead), want.reasons, bad)
	}
	if wantBad && bad == 0 {
		tb.Fatal("no bad lines produced")
	}
	tb.Logf("topic: %d records in %d messages, %d bad lines %v, end offsets %v", records, messages, bad, want.reasons, want.ends)
}

// checkSealed checks every sealed hour: revisions 1..N each once, the
// pointer a copy of revision N, and every listed file present with the
// rows the manifest says (read here with arrow).
func checkSealed(tb testing.TB, l *lake) {
	tb.Helper()
	sealed, late := 0, int64(0)
	for folder, objs := range l.manifests {
		revs := map[int]*seal.Manifest{}
		for _, b := range objs {
			m, err := seal.Decode(b)
			if err != nil {
				tb.Fatalf("%s: %v", folder, err)
			}
			revs[m.Revision] = m
		}
		if len(objs) != len(revs)+1 {
			tb.Fatalf("%s: %d manifest objects for %d revisions, want the revisions and one pointer", folder, len(objs), len(revs))
		}
		latest := revs[len(revs)]
		if latest == nil {
			tb.Fatalf("%s: revisions are not 1..%d", folder, len(revs))
		}
		var rows int64
		for _, f := range latest.Files {
			n, ok := l.fileRows[folder+"/"+f.Name]
			if !ok || n != f.Rows {
				tb.Fatalf("%s: manifest revision %d lists %s with %d rows; the sink has %d (present %v)", folder, latest.Revision, f.Name, f.Rows, n, ok)
			}
			rows += n
		}
		if rows != latest.Rows {
			tb.Fatalf("%s: manifest rows %d, its files hold %d", folder, latest.Rows, rows)
		}
		sealed++
		late += latest.Totals.LateRows
	}
	if l.ledger < sealed {
		tb.Fatalf("%d sealed hours but %d ledger copies", sealed, l.ledger)
	}
	tb.Logf("sealed: %d account-hours with manifests (%d late rows in later revisions)", sealed, late)
}
