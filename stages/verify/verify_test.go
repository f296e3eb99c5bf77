package verify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
)

type row struct {
	Account string `parquet:"account_id"`
	Start   int64  `parquet:"start"`
}

// writeFile stores a Parquet file of n rows with a lake file's metadata.
func writeFile(t *testing.T, st sink.Store, k schema.PartitionKey, name string, partition int, first, n int64) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf,
		parquet.KeyValueMetadata("flowlake.topic", "flows"),
		parquet.KeyValueMetadata("flowlake.partition", strconv.Itoa(partition)),
		parquet.KeyValueMetadata("flowlake.first_offset", strconv.FormatInt(first, 10)),
		parquet.KeyValueMetadata("flowlake.last_offset", strconv.FormatInt(first+n-1, 10)))
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{Account: k.Account, Start: k.Hour + int64(i)}
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

// sealAll seals every hour of marks with one caught-up partition.
func sealAll(t *testing.T, st sink.Store, marks []seal.HourMark) seal.Result {
	t.Helper()
	states := func(context.Context) ([]seal.PartitionState, error) {
		return []seal.PartitionState{{Topic: "flows", Partition: 0, Found: true, Next: 1 << 40, End: 1 << 40, Hours: marks, Watermark: 1}}, nil
	}
	s, err := seal.New(seal.Config{Lateness: 15 * time.Minute}, st, states, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	h := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix()
	k1 := schema.PartitionKey{Account: "111111111111", Region: "us-east-1", Hour: h}
	k2 := schema.PartitionKey{Account: "222222222222", Region: "us-east-1", Hour: h + 3600}
	fresh := func(t *testing.T) (*sink.Local, string) {
		dir := t.TempDir()
		st, err := sink.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, st, k1, "a.log.parquet", 0, 0, 100)
		writeFile(t, st, k1, "b.log.parquet", 0, 100, 50)
		writeFile(t, st, k2, "c.log.parquet", 0, 150, 70)
		marks := []seal.HourMark{{Account: k1.Account, Region: k1.Region, Hour: k1.Hour, LastOffset: 149}, {Account: k2.Account, Region: k2.Region, Hour: k2.Hour, LastOffset: 219}}
		if res := sealAll(t, st, marks); res.Sealed != 2 {
			t.Fatalf("sealed %d hours, want 2", res.Sealed)
		}
		return st, dir
	}
	d1, d2 := seal.HourFolder(k1), seal.HourFolder(k2)
	tests := []struct {
		name   string
		tamper func(t *testing.T, st *sink.Local, dir string)
		want   []string // "kind object" prefixes, in order
	}{
		{"clean", func(*testing.T, *sink.Local, string) {}, nil},
		{"deleted file", func(t *testing.T, _ *sink.Local, dir string) {
			rm(t, filepath.Join(dir, d1, "b.log.parquet"))
		}, []string{MissingFile + " " + d1 + "/b.log.parquet"}},
		{"changed file", func(t *testing.T, st *sink.Local, _ string) {
			writeFile(t, st, k1, "a.log.parquet", 0, 0, 99) // one row fewer, same name
		}, []string{ChangedFile + " " + d1 + "/a.log.parquet"}},
		{"changed bytes, same size", func(t *testing.T, _ *sink.Local, dir string) {
			p := filepath.Join(dir, d2, "c.log.parquet")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{ChangedFile + " " + d2 + "/c.log.parquet: sha256"}},
		{"extra file", func(t *testing.T, st *sink.Local, _ string) {
			writeFile(t, st, k2, "planted.log.parquet", 7, 0, 3)
		}, []string{ExtraFile + " " + d2 + "/planted.log.parquet"}},
		{"missing hour", func(t *testing.T, _ *sink.Local, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, d2)); err != nil {
				t.Fatal(err)
			}
		}, []string{MissingHour + " " + d2}},
		{"rewritten manifest", func(t *testing.T, st *sink.Local, _ string) {
			m, err := seal.Latest(ctx, st, d1)
			if err != nil {
				t.Fatal(err)
			}
			m.Files = m.Files[:1]
			m.Rows, m.Totals.Rows, m.Totals.Files, m.Totals.Bytes = m.Files[0].Rows, m.Files[0].Rows, 1, m.Files[0].Bytes
			m.Sources, m.AddedRows, m.Added = nil, m.Files[0].Rows, []string{m.Files[0].Name}
			b, _ := m.Encode()
			for _, name := range []string{seal.ManifestName, seal.RevisionName(1)} {
				if err := st.Put(ctx, d1+"/"+name, b); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{BadManifest + " " + d1 + "/" + seal.RevisionName(1) + ": differs from its ledger copy", ExtraFile + " " + d1 + "/b.log.parquet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, dir := fresh(t)
			tt.tamper(t, st, dir)
			rep, err := Run(ctx, st, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			_ = rep.Text(&out)
			if rep.OK != (len(tt.want) == 0) || len(rep.Problems) != len(tt.want) {
				t.Fatalf("report:\n%s", out.String())
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(rep.Problems[i].String(), w) {
					t.Fatalf("problem %d = %q, want %q...\n%s", i, rep.Problems[i], w, out.String())
				}
			}
			if len(tt.want) == 0 && (rep.Summary.Hours != 2 || rep.Summary.Rows != 220 || rep.Summary.Files != 3) {
				t.Fatalf("summary %+v", rep.Summary)
			}
		})
	}

	// Filters: only the second account's hour.
	st, _ := fresh(t)
	rep, err := Run(ctx, st, Options{Accounts: []string{k2.Account}, Since: time.Unix(h, 0)})
	if err != nil || !rep.OK || rep.Summary.Hours != 1 || rep.Summary.Rows != 70 {
		t.Fatalf("filtered: %+v %v", rep.Summary, err)
	}

	// Late file: revision 2 lists it; the chain verifies.
	writeFile(t, st, k1, "late.log.parquet", 0, 300, 5)
	if res := sealAll(t, st, []seal.HourMark{{Account: k1.Account, Region: k1.Region, Hour: k1.Hour, LastOffset: 304}}); res.Revised != 1 {
		t.Fatalf("late file: %+v, want one revision", res)
	}
	if rep, err := Run(ctx, st, Options{}); err != nil || !rep.OK || rep.Summary.Rows != 225 {
		t.Fatalf("after a late revision: %+v %v", rep, err)
	}
}

func rm(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}
