package pipeline

import (
	"context"
	"math"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"flowlake/internal/testenv"
	"flowlake/schema"
	"flowlake/stages/checkpoint"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
	"flowlake/stages/source/archive"
	"flowlake/stages/source/kafka"
)

// The streams of the two writers of one hour in these tests: a Kafka
// partition (`run`) and an archive folder (a backfill).
const (
	foreignKafkaTopic = "flows"
	foreignKafkaPart  = 3
	foreignFolder     = "s3://archive/flows/AWSLogs/111111111111/vpcflowlogs/us-east-1/2024/05/01/"
)

var foreignHour = schema.PartitionKey{Account: "111111111111", Region: "us-east-1", Hour: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix()}

// putLakeFile writes a Parquet file of rows records into hour k's folder,
// with the flowlake metadata naming its stream and offsets, as a writer
// does.
func putLakeFile(t *testing.T, st sink.Store, k schema.PartitionKey, name, topic string, partition int, first, last int64, rows int) {
	t.Helper()
	if err := st.Put(context.Background(), seal.HourFolder(k)+"/"+name, testenv.LakeFile(t, topic, partition, first, last, rows)); err != nil {
		t.Fatal(err)
	}
}

// storeCheckpoint stores a stream's progress record as its writer does:
// durable below next, and hour k marked up to mark.
func storeCheckpoint(t *testing.T, st sink.Store, key, topic string, partition int, next int64, k schema.PartitionKey, mark int64) {
	t.Helper()
	prog := checkpoint.New(next)
	prog.Hours[k] = mark
	prog.Watermark = k.Hour + 2*3600
	if err := prog.Store(context.Background(), st, key, topic, partition); err != nil {
		t.Fatal(err)
	}
}

// loadStates reads streams' checkpoints into sealing states as the run's
// and the backfill's deciders do (caught up: nothing past the checkpoint).
func loadStates(ctx context.Context, st sink.Store, keys map[string][2]any) ([]seal.PartitionState, error) {
	var out []seal.PartitionState
	for key, id := range keys {
		topic, partition := id[0].(string), id[1].(int)
		prog, found, err := checkpoint.Load(ctx, st, key, topic, partition)
		if err != nil {
			return nil, err
		}
		s := streamState(topic, partition, prog, found)
		s.End = s.Next
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

// wantPass runs a pass and checks what it did to the hour.
func wantPass(t *testing.T, s *seal.Sealer, st sink.Store, what string, sealed, postponed int, wantErr bool) *seal.Manifest {
	t.Helper()
	res, err := s.Pass(context.Background())
	if (err != nil) != wantErr || res.Sealed != sealed || res.Postponed != postponed {
		t.Fatalf("%s: pass %+v, err %v; want %d sealed, %d postponed, error %v", what, res, err, sealed, postponed, wantErr)
	}
	m, err := seal.LatestOf(context.Background(), st, foreignHour)
	if err != nil {
		t.Fatal(err)
	}
	if (m != nil) != (sealed > 0) {
		t.Fatalf("%s: manifest %+v", what, m)
	}
	return m
}

// checkBoth checks that the manifest lists the files of both writers.
func checkBoth(t *testing.T, m *seal.Manifest, kafkaRows, archiveRows int64) {
	t.Helper()
	byTopic := map[string]int64{}
	for _, f := range m.Files {
		byTopic[f.Source.Topic] += f.Rows
	}
	if m.Revision != 1 || len(m.Files) != 2 || byTopic[foreignKafkaTopic] != kafkaRows || byTopic[foreignFolder] != archiveRows || m.Rows != kafkaRows+archiveRows {
		t.Fatalf("manifest revision %d, %d rows, files %+v: want revision 1 with the Kafka file (%d rows) and the backfill's (%d rows)", m.Revision, m.Rows, m.Files, kafkaRows, archiveRows)
	}
}

// TestRunSealsAnHourABackfillWroteToo: `run`'s sealer holds an hour whose
// folder also has a backfill's file open until that file's archive folder
// checkpoint covers it, then seals the hour with both files.
func TestRunSealsAnHourABackfillWroteToo(t *testing.T) {
	ctx := context.Background()
	st, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	archiveKey, ok := archive.TopicCheckpointKey(foreignFolder)
	if !ok {
		t.Fatal("no checkpoint key for an archive folder")
	}
	kafkaKey := kafka.CheckpointKey("lake", foreignKafkaTopic, foreignKafkaPart)
	putLakeFile(t, st, foreignHour, "run.parquet", foreignKafkaTopic, foreignKafkaPart, 100, 149, 50)
	// The backfill's file holds lines 2..40 of the folder's third object.
	putLakeFile(t, st, foreignHour, "backfill.parquet", foreignFolder, 0, archive.Offset(2, 1), archive.Offset(2, 39), 39)
	storeCheckpoint(t, st, kafkaKey, foreignKafkaTopic, foreignKafkaPart, 150, foreignHour, 149)

	s, err := seal.New(seal.Config{Lateness: 15 * time.Minute}, st, func(ctx context.Context) ([]seal.PartitionState, error) {
		return loadStates(ctx, st, map[string][2]any{kafkaKey: {foreignKafkaTopic, foreignKafkaPart}})
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetForeign(foreignStates(st))

	wantPass(t, s, st, "no backfill checkpoint", 0, 1, false)
	// Durable up to the file's object only: a rerun may rewrite the file.
	storeCheckpoint(t, st, archiveKey, foreignFolder, 0, archive.Offset(2, 0), foreignHour, archive.Offset(2, 39))
	wantPass(t, s, st, "backfill checkpoint short of the file", 0, 1, false)
	if err := st.Put(ctx, archiveKey, []byte("{")); err != nil {
		t.Fatal(err)
	}
	wantPass(t, s, st, "unreadable backfill checkpoint", 0, 1, true)
	storeCheckpoint(t, st, archiveKey, foreignFolder, 0, archive.Offset(3, 0), foreignHour, archive.Offset(2, 39))
	m := wantPass(t, s, st, "backfill checkpoint past the file", 1, 0, false)
	checkBoth(t, m, 50, 39)
	if _, err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if m2, _ := seal.LatestOf(ctx, st, foreignHour); m2.Revision != 1 {
		t.Fatalf("revision %d after a pass with nothing new", m2.Revision)
	}
}

// backfillRule seals every marked hour (as a backfill's plan does once the
// hour's window is durable and covered).
type backfillRule struct {
	st  sink.Store
	key string
}

func (b backfillRule) Decide(ctx context.Context, _ time.Time) (seal.Decision, error) {
	states, err := loadStates(ctx, b.st, map[string][2]any{b.key: {foreignFolder, 0}})
	if err != nil {
		return seal.Decision{}, err
	}
	return seal.Decision{Frontier: math.MinInt64, States: states, Ready: func(schema.PartitionKey) (bool, string) { return true, "" }}, nil
}

func (backfillRule) Passed(context.Context, seal.Decision, seal.Result) {}

// TestBackfillSealsAnHourRunWroteToo: a backfill's sealer holds an hour
// whose folder also has `run`'s file open until the file's partition
// checkpoint covers it, for every consumer group that checkpointed the
// partition, then seals the hour with both files.
func TestBackfillSealsAnHourRunWroteToo(t *testing.T) {
	ctx := context.Background()
	st, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	archiveKey, _ := archive.TopicCheckpointKey(foreignFolder)
	putLakeFile(t, st, foreignHour, "run.parquet", foreignKafkaTopic, foreignKafkaPart, 100, 149, 50)
	putLakeFile(t, st, foreignHour, "backfill.parquet", foreignFolder, 0, archive.Offset(0, 1), archive.Offset(1, 20), 45)
	storeCheckpoint(t, st, archiveKey, foreignFolder, 0, archive.Offset(2, 0), foreignHour, archive.Offset(1, 20))

	s, err := seal.NewPlanned(seal.Config{Lateness: 15 * time.Minute}, st, backfillRule{st: st, key: archiveKey}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetForeign(foreignStates(st))

	wantPass(t, s, st, "no Kafka checkpoint", 0, 1, false)
	// Checkpoints of other partitions, another topic, and a segment do
	// not count.
	storeCheckpoint(t, st, kafka.CheckpointKey("lake", foreignKafkaTopic, 4), foreignKafkaTopic, 4, 1000, foreignHour, 999)
	storeCheckpoint(t, st, kafka.CheckpointKey("lake", "other", foreignKafkaPart), "other", foreignKafkaPart, 1000, foreignHour, 999)
	if err := st.Put(ctx, "_flowlake/checkpoints/lake/flows/3.segments/1.json", []byte("[]")); err != nil {
		t.Fatal(err)
	}
	wantPass(t, s, st, "other streams' checkpoints only", 0, 1, false)
	storeCheckpoint(t, st, kafka.CheckpointKey("lake", foreignKafkaTopic, foreignKafkaPart), foreignKafkaTopic, foreignKafkaPart, 149, foreignHour, 149)
	wantPass(t, s, st, "Kafka checkpoint short of the file's last record", 0, 1, false)
	storeCheckpoint(t, st, kafka.CheckpointKey("lake", foreignKafkaTopic, foreignKafkaPart), foreignKafkaTopic, foreignKafkaPart, 150, foreignHour, 149)
	// A second group (--allow-shared-sink) may have written the file:
	// its checkpoint must cover it too.
	shared := kafka.CheckpointKey("lake/b", foreignKafkaTopic, foreignKafkaPart)
	storeCheckpoint(t, st, shared, foreignKafkaTopic, foreignKafkaPart, 120, foreignHour, 119)
	wantPass(t, s, st, "a second group's checkpoint short of the file", 0, 1, false)
	storeCheckpoint(t, st, shared, foreignKafkaTopic, foreignKafkaPart, 400, foreignHour, 399)
	m := wantPass(t, s, st, "every group's checkpoint past the file", 1, 0, false)
	checkBoth(t, m, 50, 45)
}

// listCounter counts a store's listings.
type listCounter struct {
	sink.Store
	lists atomic.Int32
}

func (l *listCounter) List(ctx context.Context, prefix string) ([]sink.ObjectInfo, error) {
	l.lists.Add(1)
	return l.Store.List(ctx, prefix)
}

// TestForeignStatesListOncePerPass: the reader of other writers' Kafka
// checkpoints lists them once per seal pass, however many partitions the
// pass asks about, and again in the next pass (which sees new ones).
func TestForeignStatesListOncePerPass(t *testing.T) {
	ctx := context.Background()
	local, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &listCounter{Store: local}
	for p := range 3 {
		storeCheckpoint(t, st, kafka.CheckpointKey("lake", foreignKafkaTopic, p), foreignKafkaTopic, p, 100, foreignHour, 99)
	}
	read := foreignStates(st)
	pass := read()
	for p := range 5 {
		states, err := pass(ctx, foreignKafkaTopic, p)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(1, max(0, 3-p)); len(states) != want {
			t.Fatalf("partition %d: %d states, want %d", p, len(states), want)
		}
	}
	if n := st.lists.Load(); n != 1 {
		t.Fatalf("%d listings in one pass of 5 partitions, want 1", n)
	}
	storeCheckpoint(t, st, kafka.CheckpointKey("lake", foreignKafkaTopic, 4), foreignKafkaTopic, 4, 100, foreignHour, 99)
	states, err := read()(ctx, foreignKafkaTopic, 4)
	if err != nil || len(states) != 1 {
		t.Fatalf("the next pass: %d states, %v; want the new checkpoint's", len(states), err)
	}
	if n := st.lists.Load(); n != 2 {
		t.Fatalf("%d listings after two passes, want 2", n)
	}
}
