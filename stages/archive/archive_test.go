package archive

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"flowlake/internal/testenv"
	"flowlake/schema"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
	"flowlake/stages/verify"
)

type row struct {
	Account *string `parquet:"account_id,optional"`
	Start   *int64  `parquet:"start,optional"`
	ID      int64   `parquet:"id"`
}

// lakeFile stores a lake file of n rows in random start order; ids start
// at first (they double as Kafka offsets).
func lakeFile(t *testing.T, st sink.Store, k schema.PartitionKey, name string, first, n int64, rng *rand.Rand) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf,
		parquet.KeyValueMetadata("flowlake.topic", "flows"),
		parquet.KeyValueMetadata("flowlake.partition", "0"),
		parquet.KeyValueMetadata("flowlake.first_offset", strconv.FormatInt(first, 10)),
		parquet.KeyValueMetadata("flowlake.last_offset", strconv.FormatInt(first+n-1, 10)))
	rows := make([]row, n)
	for i := range rows {
		acct, start := k.Account, k.Hour+rng.Int64N(3600)
		rows[i] = row{Account: &acct, Start: &start, ID: first + int64(i)}
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), seal.HourFolder(k)+"/"+name, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func sealLake(t *testing.T, st sink.Store, marks []seal.HourMark) {
	t.Helper()
	states := func(context.Context) ([]seal.PartitionState, error) {
		return []seal.PartitionState{{Topic: "flows", Partition: 0, Found: true, Next: 1 << 40, End: 1 << 40, Hours: marks, Watermark: 1}}, nil
	}
	s, err := seal.New(seal.Config{}, st, states, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func local(t *testing.T) (*sink.Local, string) {
	dir := t.TempDir()
	st, err := sink.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

// folderFiles reads an archive's data files by hour folder with arrow.
func folderFiles(t *testing.T, dir string) map[string]map[string]*testenv.ParquetFile {
	out := map[string]map[string]*testenv.ParquetFile{}
	for rel, f := range testenv.ReadParquetDir(t, dir) {
		folder, name := seal.SplitKey(filepath.ToSlash(rel))
		if out[folder] == nil {
			out[folder] = map[string]*testenv.ParquetFile{}
		}
		out[folder][name] = f
	}
	return out
}

func ids(files map[string]*testenv.ParquetFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.RowStrings([]string{"id", "account_id", "start"})...)
	}
	sort.Strings(out)
	return out
}

func TestArchive(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	lake, lakeDir := local(t)
	arch, archDir := local(t)
	h := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix()
	var marks []seal.HourMark
	off := int64(0)
	for _, acct := range []string{"111111111111", "222222222222"} {
		for hour := h; hour < h+2*3600; hour += 3600 {
			k := schema.PartitionKey{Account: acct, Region: "us-east-1", Hour: hour}
			for i := range 4 {
				lakeFile(t, lake, k, fmt.Sprintf("f%d.log.parquet", i), off, 500+int64(i)*10, rng)
				off += 500 + int64(i)*10
			}
			marks = append(marks, seal.HourMark{Account: acct, Region: "us-east-1", Hour: hour, LastOffset: off - 1})
		}
	}
	sealLake(t, lake, marks)

	a := New(Config{RunBytes: 16 << 10}, lake, arch, nil) // small runs: the merge has many inputs
	res, err := a.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hours != 4 || res.Files != 4 || res.Rows != off {
		t.Fatalf("pass: %+v, want 4 hours in 4 files with %d rows", res, off)
	}
	lakeFiles, archFiles := folderFiles(t, lakeDir), folderFiles(t, archDir)
	for folder, files := range archFiles {
		if len(files) != 1 {
			t.Fatalf("%s: %d archive files, want 1", folder, len(files))
		}
		for name, f := range files {
			var last int64 = -1
			for i, r := range f.Rows {
				s := r["start"].(int64)
				if s < last {
					t.Fatalf("%s/%s row %d: start %d after %d: not sorted", folder, name, i, s, last)
				}
				last = s
			}
			if len(f.Columns) != 3 || f.Columns[0].Name != "account_id" || f.Columns[2].Name != "id" {
				t.Fatalf("%s/%s: columns %+v, want the lake's", folder, name, f.Columns)
			}
		}
		if got, want := ids(files), ids(lakeFiles[folder]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: archive rows differ from the lake's", folder)
		}
	}
	checkVerify(t, arch, lake)

	// A second pass finds nothing to do.
	if res, err := a.Pass(ctx); err != nil || res.Hours != 0 || res.Current != 4 {
		t.Fatalf("second pass: %+v %v", res, err)
	}

	// Late rows after archiving land in an added file.
	k := schema.PartitionKey{Account: "111111111111", Region: "us-east-1", Hour: h}
	lakeFile(t, lake, k, "late.log.parquet", off, 37, rng)
	sealLake(t, lake, []seal.HourMark{{Account: k.Account, Region: k.Region, Hour: k.Hour, LastOffset: off + 36}})
	if res, err := a.Pass(ctx); err != nil || res.Hours != 1 || res.Files != 1 || res.Rows != 37 {
		t.Fatalf("late pass: %+v %v", res, err)
	}
	m, err := seal.LatestOf(ctx, arch, k)
	if err != nil || m.Revision != 2 || len(m.Files) != 2 || m.Files[1].Rows != 37 || m.Lake.Revision != 2 {
		t.Fatalf("archive manifest after late rows: %+v %v", m, err)
	}
	archFiles = folderFiles(t, archDir)
	added := archFiles[seal.HourFolder(k)][m.Files[1].Name]
	for _, r := range added.Rows {
		if r["id"].(int64) < off {
			t.Fatalf("the added file holds an old row %v", r)
		}
	}
	checkVerify(t, arch, lake)
}

func TestArchiveTargetSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lake, _ := local(t)
	arch, archDir := local(t)
	k := schema.PartitionKey{Account: "111111111111", Region: "us-east-1", Hour: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix()}
	lakeFile(t, lake, k, "a.log.parquet", 0, 20000, rng)
	lakeFile(t, lake, k, "b.log.parquet", 20000, 20000, rng)
	sealLake(t, lake, []seal.HourMark{{Account: k.Account, Region: k.Region, Hour: k.Hour, LastOffset: 39999}})
	res, err := New(Config{TargetFileSize: 64 << 10, RowGroupRows: 4096}, lake, arch, nil).Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	files := folderFiles(t, archDir)[seal.HourFolder(k)]
	if res.Files < 2 || len(files) != res.Files || res.Rows != 40000 {
		t.Fatalf("%+v, %d files: want several files of about 64 KiB", res, len(files))
	}
	// Files follow each other in start order.
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var last int64
	for _, n := range names {
		for _, r := range files[n].Rows {
			if s := r["start"].(int64); s < last {
				t.Fatalf("%s: start %d after %d", n, s, last)
			} else {
				last = s
			}
		}
	}
	checkVerify(t, arch, lake)

	// A rerun writes the same bytes (what lets a killed job adopt the
	// files it uploaded).
	again, againDir := local(t)
	if _, err := New(Config{TargetFileSize: 64 << 10, RowGroupRows: 4096}, lake, again, nil).Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		a, errA := os.ReadFile(filepath.Join(archDir, seal.HourFolder(k), n))
		b, errB := os.ReadFile(filepath.Join(againDir, seal.HourFolder(k), n))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs between two runs (%v %v)", n, errA, errB)
		}
	}
}

func checkVerify(t *testing.T, arch, lake sink.Store) {
	t.Helper()
	for _, st := range []sink.Store{arch, lake} {
		rep, err := verify.Run(context.Background(), st, verify.Options{Lake: lake})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK {
			var b bytes.Buffer
			_ = rep.Text(&b)
			t.Fatalf("verify %s:\n%s", st, b.String())
		}
	}
}
