package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/parquet/file"

	"flowlake/schema"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
)

// Problem kinds, stable for scripts.
const (
	MissingFile     = "missing-file"     // listed, not stored
	ChangedFile     = "changed-file"     // stored, but size, checksum or rows differ
	UnreadableFile  = "unreadable-file"  // not a readable Parquet file
	ExtraFile       = "extra-file"       // stored in a sealed hour, not listed
	MissingHour     = "missing-hour"     // in the ledger, no manifest in its folder
	BadManifest     = "bad-manifest"     // totals do not add up, broken chain, unreadable
	UnsealedArchive = "unsealed-archive" // archive folder with files and no manifest
	LakeMismatch    = "lake-mismatch"    // archive hour differs from the lake's
)

// Options select what to check.
type Options struct {
	// Since and Until bound hour starts (inclusive, exclusive); zero means
	// unbounded.
	Since, Until time.Time
	// Accounts limits the check to these accounts; empty means all.
	Accounts []string
	// Lake, when verifying an archive, is the lake it was copied from:
	// every archived hour's rows must equal the lake's.
	Lake sink.Store
}

// Problem is one thing that does not hold.
type Problem struct {
	Kind   string `json:"kind"`
	Object string `json:"object"`
	Detail string `json:"detail"`
}

func (p Problem) String() string { return p.Kind + " " + p.Object + ": " + p.Detail }

// Summary counts what was checked.
type Summary struct {
	Store    string `json:"store"`
	Kind     string `json:"kind"`
	Hours    int    `json:"hours"`
	Files    int    `json:"files"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
	Unsealed int    `json:"unsealed_hours"`
	Problems int    `json:"problems"`
}

// Report is the outcome of a verification.
type Report struct {
	OK       bool      `json:"ok"`
	Summary  Summary   `json:"summary"`
	Problems []Problem `json:"problems"`
}

// ArchiveMarker is the object at an archive's root that says it is one.
const ArchiveMarker = "_flowlake/archive.json"

type hourObjects struct {
	key   schema.PartitionKey
	data  map[string]int64 // data file name -> size
	other bool             // has any object (manifest, revision)
}

// Run verifies st. It returns an error only when the store cannot be read;
// everything else is a Problem in the report.
func Run(ctx context.Context, st sink.Store, opts Options) (*Report, error) {
	r := &Report{Summary: Summary{Store: st.String(), Kind: seal.KindLake}, Problems: []Problem{}}
	if _, err := st.Get(ctx, ArchiveMarker); err == nil {
		r.Summary.Kind = seal.KindArchive
	} else if !errors.Is(err, sink.ErrNotFound) {
		return nil, fmt.Errorf("read %s: %w", ArchiveMarker, err)
	}
	objs, err := st.List(ctx, "AWSLogs/")
	if err != nil {
		return nil, err
	}
	hours := map[string]*hourObjects{}
	for _, o := range objs {
		dir, name := seal.SplitKey(o.Key)
		k, ok := seal.ParseFolder(dir)
		if !ok || !opts.selects(k) {
			continue
		}
		h := hours[dir]
		if h == nil {
			h = &hourObjects{key: k, data: map[string]int64{}}
			hours[dir] = h
		}
		h.other = true
		if !seal.IsControlName(name) {
			h.data[name] = o.Size
		}
	}
	ledger, err := readLedger(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	for dir := range ledger {
		if hours[dir] == nil {
			hours[dir] = &hourObjects{key: ledger[dir].key, data: map[string]int64{}}
		}
	}
	dirs := make([]string, 0, len(hours))
	for d := range hours {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		if err := r.hour(ctx, st, dir, hours[dir], ledger[dir], opts); err != nil {
			return nil, err
		}
	}
	r.Summary.Problems = len(r.Problems)
	r.OK = len(r.Problems) == 0
	return r, nil
}

func (o Options) selects(k schema.PartitionKey) bool {
	if !o.Since.IsZero() && k.Hour < o.Since.Unix() {
		return false
	}
	if !o.Until.IsZero() && k.Hour >= o.Until.Unix() {
		return false
	}
	if len(o.Accounts) == 0 {
		return true
	}
	for _, a := range o.Accounts {
		if a == k.Account {
			return true
		}
	}
	return false
}

func (r *Report) add(kind, object, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Object: object, Detail: fmt.Sprintf(format, args...)})
}

// ledgerHour is an hour's revisions in the ledger.
type ledgerHour struct {
	key  schema.PartitionKey
	revs map[int]string // revision -> ledger key
}

func readLedger(ctx context.Context, st sink.Store, opts Options) (map[string]*ledgerHour, error) {
	objs, err := st.List(ctx, seal.LedgerPrefix)
	if err != nil {
		return nil, err
	}
	out := map[string]*ledgerHour{}
	for _, o := range objs {
		k, rev, ok := seal.ParseLedgerKey(o.Key)
		if !ok || !opts.selects(k) {
			continue
		}
		dir := seal.HourFolder(k)
		h := out[dir]
		if h == nil {
			h = &ledgerHour{key: k, revs: map[int]string{}}
			out[dir] = h
		}
		h.revs[rev] = o.Key
	}
	return out, nil
}

// hour checks one hour folder.
func (r *Report) hour(ctx context.Context, st sink.Store, dir string, h *hourObjects, led *ledgerHour, opts Options) error {
	m, err := seal.Latest(ctx, st, dir)
	if err != nil && !isNotFoundOrDecode(err) {
		return err
	}
	if err != nil {
		r.add(BadManifest, dir, "%v", err)
		return nil
	}
	if m == nil {
		switch {
		case led != nil:
			r.add(MissingHour, dir, "the ledger holds %d manifest revisions of this hour; the store has no manifest (%d data files)", len(led.revs), len(h.data))
		case r.Summary.Kind == seal.KindArchive && len(h.data) > 0:
			r.add(UnsealedArchive, dir, "%d data files and no manifest", len(h.data))
		default:
			r.Summary.Unsealed++
		}
		return nil
	}
	r.Summary.Hours++
	r.chain(ctx, st, dir, m, led)
	r.totals(dir, m)
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Name] = true
		key := dir + "/" + f.Name
		size, ok := h.data[f.Name]
		if !ok {
			r.add(MissingFile, key, "listed in manifest revision %d (%d rows, %d bytes); not in the store", f.Revision, f.Rows, f.Bytes)
			continue
		}
		r.Summary.Files++
		r.Summary.Bytes += size
		if size != f.Bytes {
			r.add(ChangedFile, key, "%d bytes, the manifest says %d", size, f.Bytes)
			continue
		}
		sum, rows, err := readFile(ctx, st, key)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, sink.ErrNotFound) {
				r.add(MissingFile, key, "vanished while verifying")
				continue
			}
			r.add(UnreadableFile, key, "%v", err)
			continue
		}
		if sum != f.SHA256 {
			r.add(ChangedFile, key, "sha256 %s, the manifest says %s", sum, f.SHA256)
			continue
		}
		if rows != f.Rows {
			r.add(ChangedFile, key, "%d rows, the manifest says %d", rows, f.Rows)
			continue
		}
		r.Summary.Rows += rows
	}
	names := make([]string, 0, len(h.data))
	for n := range h.data {
		if !listed[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		r.add(ExtraFile, dir+"/"+n, "%d bytes, not listed in manifest revision %d (late data not sealed yet, or a foreign file)", h.data[n], m.Revision)
	}
	if m.Kind == seal.KindArchive && opts.Lake != nil {
		if err := r.againstLake(ctx, opts.Lake, dir, m); err != nil {
			return err
		}
	}
	return nil
}

func isNotFoundOrDecode(err error) bool {
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, sink.ErrPermanent)
}

// chain checks that revisions 1..latest exist, each names the previous
// one's hash, the pointer is the latest, and the ledger holds the same
// bytes.
func (r *Report) chain(ctx context.Context, st sink.Store, dir string, m *seal.Manifest, led *ledgerHour) {
	var prev []byte
	for rev := 1; rev <= m.Revision; rev++ {
		key := dir + "/" + seal.RevisionName(rev)
		b, err := st.Get(ctx, key)
		if err != nil {
			r.add(BadManifest, key, "revision %d of %d unreadable: %v", rev, m.Revision, err)
			prev = nil
			continue
		}
		rm, err := seal.Decode(b)
		if err != nil || rm.Revision != rev {
			r.add(BadManifest, key, "not revision %d: %v", rev, err)
			prev = nil
			continue
		}
		if rev > 1 && prev != nil && (rm.Previous == nil || rm.Previous.SHA256 != seal.SHA256(prev)) {
			r.add(BadManifest, key, "does not chain to revision %d (its hash changed)", rev-1)
		}
		if led != nil {
			lk, ok := led.revs[rev]
			if !ok {
				r.add(BadManifest, key, "revision %d is not in the ledger %s", rev, seal.LedgerPrefix)
			} else if lb, err := st.Get(ctx, lk); err != nil || !bytes.Equal(lb, b) {
				r.add(BadManifest, key, "differs from its ledger copy %s", lk)
			}
		}
		prev = b
	}
	if led != nil {
		for rev := range led.revs {
			if rev > m.Revision {
				r.add(BadManifest, dir+"/"+seal.RevisionName(rev), "the ledger holds revision %d; the folder's latest is %d", rev, m.Revision)
			}
		}
	} else {
		r.add(BadManifest, dir+"/"+seal.ManifestName, "hour not in the ledger %s", seal.LedgerPrefix)
	}
	ptr, err := st.Get(ctx, dir+"/"+seal.ManifestName)
	if err == nil && prev != nil && !bytes.Equal(ptr, prev) {
		r.add(BadManifest, dir+"/"+seal.ManifestName, "is not a copy of the latest revision %d", m.Revision)
	}
}

// totals checks that the manifest's sums add up.
func (r *Report) totals(dir string, m *seal.Manifest) {
	var rows, bytes, late, added int64
	for _, f := range m.Files {
		rows += f.Rows
		bytes += f.Bytes
		if f.Revision > 1 {
			late += f.Rows
		}
		if f.Revision == m.Revision {
			added += f.Rows
		}
	}
	obj := dir + "/" + seal.ManifestName
	if m.Rows != rows || m.Totals.Rows != rows || m.Totals.Files != len(m.Files) || m.Totals.Bytes != bytes {
		r.add(BadManifest, obj, "totals (rows %d, files %d, bytes %d) do not add up to its files (rows %d, files %d, bytes %d)",
			m.Rows, m.Totals.Files, m.Totals.Bytes, rows, len(m.Files), bytes)
	}
	if m.Kind == seal.KindLake && (m.Totals.LateRows != late || m.AddedRows != added) {
		r.add(BadManifest, obj, "late rows %d and added rows %d, files say %d and %d", m.Totals.LateRows, m.AddedRows, late, added)
	}
	if len(m.Sources) > 0 {
		var src int64
		for _, s := range m.Sources {
			src += s.Rows
		}
		if src != rows {
			r.add(BadManifest, obj, "sources hold %d rows, files %d", src, rows)
		}
	}
	if m.Kind == seal.KindArchive && m.Lake != nil && m.Lake.Rows != rows {
		r.add(LakeMismatch, obj, "archive holds %d rows; the lake's revision %d it copied holds %d", rows, m.Lake.Revision, m.Lake.Rows)
	}
}

// againstLake compares an archived hour with the lake's manifest.
func (r *Report) againstLake(ctx context.Context, lake sink.Store, dir string, m *seal.Manifest) error {
	lm, err := seal.Latest(ctx, lake, dir)
	if err != nil {
		r.add(LakeMismatch, dir, "lake manifest unreadable: %v", err)
		return nil
	}
	if lm == nil {
		r.add(LakeMismatch, dir, "archived, but the lake has no manifest for this hour")
		return nil
	}
	if m.Lake == nil {
		r.add(LakeMismatch, dir, "archive manifest does not say which lake revision it copied")
		return nil
	}
	var rows int64
	for _, f := range lm.Files {
		if f.Revision <= m.Lake.Revision {
			rows += f.Rows
		}
	}
	if rows != m.Rows {
		r.add(LakeMismatch, dir, "archive holds %d rows; the lake's revision %d holds %d", m.Rows, m.Lake.Revision, rows)
	}
	if lm.Revision > m.Lake.Revision {
		r.add(LakeMismatch, dir, "the lake has revision %d (%d rows); the archive copied revision %d: run flowlake archive", lm.Revision, lm.Rows, m.Lake.Revision)
	}
	return nil
}

// readFile hashes an object and counts its rows with arrow's reader.
func readFile(ctx context.Context, st sink.Store, key string) (string, int64, error) {
	obj, err := st.Open(ctx, key)
	if err != nil {
		return "", 0, err
	}
	defer obj.Close()
	sum, err := seal.HashObject(obj)
	if err != nil {
		return "", 0, fmt.Errorf("read: %w", err)
	}
	rdr, err := file.NewParquetReader(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		return sum, 0, fmt.Errorf("not a readable Parquet file: %w", err)
	}
	defer rdr.Close()
	return sum, rdr.NumRows(), nil
}

// Text writes the report as one line per problem and a summary line.
func (r *Report) Text(w io.Writer) error {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	s := r.Summary
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "%s: %s %s: %d sealed hours, %d files, %d rows, %d bytes verified; %d unsealed hours; %d problems\n",
		verdict, s.Kind, s.Store, s.Hours, s.Files, s.Rows, s.Bytes, s.Unsealed, s.Problems)
	_, err := io.WriteString(w, b.String())
	return err
}
