package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
	"flowlake/stages/verify"
)

// Config configures the archive job.
type Config struct {
	// TargetFileSize cuts an hour's output into files of about this size.
	TargetFileSize int64
	// RowGroupRows is the rows per row group (large: fewer, bigger reads).
	RowGroupRows int64
	// RunBytes bounds the rows sorted in memory at once.
	RunBytes int64
	// TempDir holds sort runs and outputs before upload ("" = os.TempDir).
	TempDir string
	// FlowLogID goes into archive file names.
	FlowLogID string
	// Since, Until and Accounts select hours (zero = all).
	Since, Until time.Time
	Accounts     []string
}

// Defaults are the default settings.
var Defaults = Config{TargetFileSize: 256 << 20, RowGroupRows: 1 << 20, RunBytes: 128 << 20, FlowLogID: "fl-flowlake-archive"}

// Result counts what a pass did.
type Result struct {
	// Hours archived (or extended) by this pass, Files written, Rows copied.
	Hours, Files int
	Rows         int64
	// Current counts sealed hours already archived at their lake revision.
	Current int
}

// Archiver copies sealed hours from a lake to an archive.
type Archiver struct {
	cfg    Config
	lake   sink.Store
	arch   sink.Store
	logger *slog.Logger
}

// New returns an archiver. A nil logger discards logs.
func New(cfg Config, lake, arch sink.Store, logger *slog.Logger) *Archiver {
	if cfg.TargetFileSize <= 0 {
		cfg.TargetFileSize = Defaults.TargetFileSize
	}
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = Defaults.RowGroupRows
	}
	if cfg.RunBytes <= 0 {
		cfg.RunBytes = Defaults.RunBytes
	}
	if cfg.FlowLogID == "" {
		cfg.FlowLogID = Defaults.FlowLogID
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Archiver{cfg: cfg, lake: lake, arch: arch, logger: logger}
}

// Pass archives every sealed hour of the lake not archived at its latest
// revision yet.
func (a *Archiver) Pass(ctx context.Context) (Result, error) {
	var res Result
	marker, _ := json.Marshal(map[string]string{"kind": "flowlake-archive", "from": a.lake.String()})
	if err := a.arch.Create(ctx, verify.ArchiveMarker, marker); err != nil && !errors.Is(err, sink.ErrExists) {
		return res, fmt.Errorf("write archive marker: %w", err)
	}
	objs, err := a.lake.List(ctx, seal.LedgerPrefix)
	if err != nil {
		return res, fmt.Errorf("list sealed hours: %w", err)
	}
	seen := map[schema.PartitionKey]bool{}
	var keys []schema.PartitionKey
	for _, o := range objs {
		k, _, ok := seal.ParseLedgerKey(o.Key)
		if !ok || seen[k] || !a.selects(k) {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Hour != keys[j].Hour {
			return keys[i].Hour < keys[j].Hour
		}
		return seal.HourFolder(keys[i]) < seal.HourFolder(keys[j])
	})
	for _, k := range keys {
		n, rows, err := a.hour(ctx, k)
		if err != nil {
			return res, fmt.Errorf("archive %s: %w", seal.HourFolder(k), err)
		}
		if n == 0 {
			res.Current++
			continue
		}
		res.Hours++
		res.Files += n
		res.Rows += rows
	}
	return res, nil
}

func (a *Archiver) selects(k schema.PartitionKey) bool {
	c := a.cfg
	if !c.Since.IsZero() && k.Hour < c.Since.Unix() || !c.Until.IsZero() && k.Hour >= c.Until.Unix() {
		return false
	}
	if len(c.Accounts) == 0 {
		return true
	}
	for _, acct := range c.Accounts {
		if acct == k.Account {
			return true
		}
	}
	return false
}

// hour brings one hour's archive up to the lake's latest revision. It
// returns the files it added and their rows.
func (a *Archiver) hour(ctx context.Context, k schema.PartitionKey) (int, int64, error) {
	folder := seal.HourFolder(k)
	lm, err := seal.Latest(ctx, a.lake, folder)
	if err != nil {
		return 0, 0, err
	}
	if lm == nil {
		return 0, 0, nil // in the ledger, folder gone: flowlake verify reports it
	}
	am, err := seal.Latest(ctx, a.arch, folder)
	if err != nil {
		return 0, 0, err
	}
	done := 0
	if am != nil {
		if am.Lake == nil {
			return 0, 0, fmt.Errorf("archive manifest revision %d does not name its lake revision", am.Revision)
		}
		done = am.Lake.Revision
	}
	if done >= lm.Revision {
		// Archived; finish what a job killed after the revision left
		// undone (its ledger copy, the pointer).
		return 0, 0, seal.Finish(ctx, a.arch, folder, am)
	}
	// The rows of lake revisions done+1..latest, grouped by schema.
	var inputs []seal.File
	var lakeRows int64
	for _, f := range lm.Files {
		lakeRows += f.Rows
		if f.Revision > done {
			inputs = append(inputs, f)
		}
	}
	rev := 1
	if am != nil {
		rev = am.Revision + 1
	}
	files, err := a.compact(ctx, k, folder, inputs, lm.Revision)
	if err != nil {
		return 0, 0, err
	}
	m := &seal.Manifest{Version: 1, Kind: seal.KindArchive, Revision: rev, AccountID: k.Account, Region: k.Region,
		Hour: seal.HourString(k.Hour), Folder: folder, Lake: &seal.LakeRef{Revision: lm.Revision, Rows: lakeRows, Files: len(lm.Files)}}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	m.SealedAt, m.FirstSealedAt = now, now
	host, _ := os.Hostname()
	m.SealedBy = host + "/" + strconv.Itoa(os.Getpid())
	if am != nil {
		m.Files = append(m.Files, am.Files...)
		m.FirstSealedAt = am.FirstSealedAt
		b, err := am.Encode()
		if err != nil {
			return 0, 0, err
		}
		m.Previous = &seal.RevisionRef{Revision: am.Revision, SHA256: seal.SHA256(b)}
	}
	var added int64
	for _, f := range files {
		f.Revision = rev
		m.Files = append(m.Files, f)
		m.Added = append(m.Added, f.Name)
		added += f.Rows
	}
	m.AddedRows = added
	for _, f := range m.Files {
		m.Totals.Files++
		m.Totals.Rows += f.Rows
		m.Totals.Bytes += f.Bytes
	}
	m.Rows = m.Totals.Rows
	if m.Rows != lakeRows {
		return 0, 0, fmt.Errorf("archive would hold %d rows, the lake's revision %d holds %d", m.Rows, lm.Revision, lakeRows)
	}
	if created, err := seal.Publish(ctx, a.arch, folder, m); err != nil {
		if errors.Is(err, sink.ErrExists) {
			return 0, 0, fmt.Errorf("another archive job wrote revision %d of %s at the same time", rev, folder)
		}
		if !created {
			return 0, 0, err
		}
		// The revision stands; finish its ledger copy and pointer now.
		if err := seal.Finish(ctx, a.arch, folder, m); err != nil {
			return 0, 0, err
		}
	}
	a.logger.Info("hour archived", "hour", folder, "revision", rev, "lake_revision", lm.Revision, "files", len(files), "rows", added)
	return len(files), added, nil
}

// compact writes the input files' rows, sorted by start time, into new
// archive files named after the lake revision, uploads them (or finds them
// uploaded by a killed run), and checks each with arrow's reader.
func (a *Archiver) compact(ctx context.Context, k schema.PartitionKey, folder string, inputs []seal.File, lakeRev int) ([]seal.File, error) {
	tmp, err := os.MkdirTemp(a.cfg.TempDir, "flowlake-archive-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// Group inputs by schema: one output series per layout.
	type group struct {
		schema *parquet.Schema
		files  []seal.File
	}
	var groups []*group
	for _, f := range inputs {
		pf, closeFn, err := a.openLake(ctx, folder+"/"+f.Name)
		if err != nil {
			return nil, err
		}
		sch := pf.Schema()
		closeFn()
		var g *group
		for _, x := range groups {
			if parquet.SameNodes(x.schema, sch) {
				g = x
				break
			}
		}
		if g == nil {
			g = &group{schema: sch}
			groups = append(groups, g)
		}
		g.files = append(g.files, f)
	}
	var out []seal.File
	part := 0
	for gi, g := range groups {
		dir := fmt.Sprintf("%s/g%d", tmp, gi)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		s, err := newSorter(g.schema, "start", dir, a.cfg.RunBytes)
		if err != nil {
			return nil, err
		}
		var want int64
		for _, f := range g.files {
			pf, closeFn, err := a.openLake(ctx, folder+"/"+f.Name)
			if err != nil {
				return nil, err
			}
			if pf.NumRows() != f.Rows {
				closeFn()
				return nil, fmt.Errorf("lake file %s has %d rows, its manifest says %d", f.Name, pf.NumRows(), f.Rows)
			}
			err = s.add(pf)
			closeFn()
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", f.Name, err)
			}
			want += f.Rows
		}
		o := &outputs{s: s, tmp: dir, target: a.cfg.TargetFileSize, groupRows: a.cfg.RowGroupRows,
			meta: map[string]string{"flowlake.archive.lake_revision": strconv.Itoa(lakeRev), "flowlake.archive.sorted_by": "start"}}
		if err := s.merge(o.write); err != nil {
			return nil, err
		}
		if err := o.close(); err != nil {
			return nil, err
		}
		var got int64
		for _, c := range o.done {
			part++
			name := schema.ObjectName(k, a.cfg.FlowLogID, fmt.Sprintf("%08x%08x", lakeRev, part), ".log.parquet")
			f, err := a.upload(ctx, folder+"/"+name, c)
			if err != nil {
				return nil, err
			}
			got += f.Rows
			out = append(out, f)
		}
		if got != want {
			return nil, fmt.Errorf("compacted %d rows of %d", got, want)
		}
	}
	return out, nil
}

func (a *Archiver) openLake(ctx context.Context, key string) (*parquet.File, func(), error) {
	obj, err := a.lake.Open(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	pf, err := parquet.OpenFile(obj, obj.Size(), parquet.SkipBloomFilters(true))
	if err != nil {
		obj.Close()
		return nil, nil, fmt.Errorf("open %s: %w", key, err)
	}
	return pf, func() { obj.Close() }, nil
}

// upload stores a compacted file unless a killed run already did (names
// are deterministic, so the object there holds these rows), then reads it
// back with arrow: the row count must match before it is listed.
func (a *Archiver) upload(ctx context.Context, key string, c *output) (seal.File, error) {
	_, name := seal.SplitKey(key)
	_, err := a.arch.Open(ctx, key)
	switch {
	case errors.Is(err, sink.ErrNotFound):
		if err := a.arch.PutFile(ctx, key, c.path); err != nil {
			return seal.File{}, fmt.Errorf("upload %s: %w", key, err)
		}
	case err != nil:
		return seal.File{}, err
	default:
		a.logger.Info("archive file already uploaded by an earlier run; checking it", "file", key)
	}
	obj, err := a.arch.Open(ctx, key)
	if err != nil {
		return seal.File{}, err
	}
	defer obj.Close()
	sum, err := seal.HashObject(obj)
	if err != nil {
		return seal.File{}, fmt.Errorf("read back %s: %w", key, err)
	}
	rdr, err := file.NewParquetReader(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		return seal.File{}, fmt.Errorf("read back %s with arrow: %w", key, err)
	}
	rows := rdr.NumRows()
	rdr.Close()
	if rows != c.rows {
		return seal.File{}, fmt.Errorf("read back %s: %d rows, wrote %d", key, rows, c.rows)
	}
	return seal.File{Name: name, Rows: rows, Bytes: obj.Size(), SHA256: sum, MinStart: c.minStart, MaxStart: c.maxStart}, nil
}
