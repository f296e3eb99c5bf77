package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"flowlake/schema"
	"flowlake/stages/sink"
)

// Latest returns the newest revision of the hour's manifest in folder, or
// nil when the hour is not sealed. The pointer `_flowlake_manifest.json`
// is a hint: a writer that stopped between a revision and the pointer
// leaves newer revisions, which are probed for.
func Latest(ctx context.Context, st sink.Sink, folder string) (*Manifest, error) {
	var cur *Manifest
	b, err := st.Get(ctx, folder+"/"+ManifestName)
	switch {
	case errors.Is(err, sink.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("read manifest of %s: %w", folder, err)
	default:
		if cur, err = Decode(b); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", folder, ManifestName, err)
		}
	}
	n := 0
	if cur != nil {
		n = cur.Revision
	}
	for {
		b, err := st.Get(ctx, folder+"/"+RevisionName(n+1))
		if errors.Is(err, sink.ErrNotFound) {
			return cur, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest revision %d of %s: %w", n+1, folder, err)
		}
		m, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", folder, RevisionName(n+1), err)
		}
		cur, n = m, n+1
	}
}

// LatestOf is Latest for an hour of the lake layout.
func LatestOf(ctx context.Context, st sink.Sink, k schema.PartitionKey) (*Manifest, error) {
	return Latest(ctx, st, HourFolder(k))
}

// CoversMark reports whether m lists a file of the mark's partition whose
// last offset is at or after the mark's: the partition may drop the mark.
func CoversMark(m *Manifest, topic string, partition int, lastOffset int64) bool {
	if m == nil {
		return false
	}
	for _, f := range m.Files {
		if f.Source != nil && f.Source.Topic == topic && f.Source.Partition == partition && f.Source.LastOffset >= lastOffset {
			return true
		}
	}
	return false
}

// Publish writes revision m.Revision create-only, copies it to the
// ledger, then points the manifest at it. It returns sink.ErrExists
// (wrapped) when another writer made that revision first. Once the
// revision is created the hour holds it whatever happens next: an error
// after that is returned with created = true, and a later pass finishes
// the ledger copy and the pointer.
func Publish(ctx context.Context, st sink.Store, folder string, m *Manifest) (created bool, err error) {
	b, err := m.Encode()
	if err != nil {
		return false, err
	}
	if err := st.Create(ctx, folder+"/"+RevisionName(m.Revision), b); err != nil {
		return false, err
	}
	if err := record(ctx, st, m, b); err != nil {
		return true, err
	}
	return true, point(ctx, st, folder, m.Revision, b)
}

// LedgerPrefix holds a copy of every manifest revision outside the hour
// folders, so that verification notices a whole hour folder deleted (its
// manifest with it) or a revision rewritten.
const LedgerPrefix = "_flowlake/manifests/"

// LedgerKey is where the ledger keeps revision rev of hour k.
func LedgerKey(k schema.PartitionKey, rev int) string {
	return LedgerPrefix + k.Account + "/" + k.Region + "/" + time.Unix(k.Hour, 0).UTC().Format("2006-01-02T15") + "/" + RevisionName(rev)
}

// ParseLedgerKey parses a ledger key into its hour and revision.
func ParseLedgerKey(key string) (schema.PartitionKey, int, bool) {
	rest, ok := strings.CutPrefix(key, LedgerPrefix)
	if !ok {
		return schema.PartitionKey{}, 0, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return schema.PartitionKey{}, 0, false
	}
	t, err := time.Parse("2006-01-02T15", parts[2])
	if err != nil {
		return schema.PartitionKey{}, 0, false
	}
	var rev int
	if _, err := fmt.Sscanf(parts[3], revisionPrefix+"%06d.json", &rev); err != nil || RevisionName(rev) != parts[3] {
		return schema.PartitionKey{}, 0, false
	}
	return schema.PartitionKey{Account: parts[0], Region: parts[1], Hour: t.Unix()}, rev, true
}

// record copies a revision into the ledger. A copy already there (a
// writer that stopped after it) is fine if it is the same.
func record(ctx context.Context, st sink.Store, m *Manifest, b []byte) error {
	k, err := m.Key()
	if err != nil {
		return err
	}
	key := LedgerKey(k, m.Revision)
	err = st.Create(ctx, key, b)
	if errors.Is(err, sink.ErrExists) {
		cur, gerr := st.Get(ctx, key)
		if gerr == nil && bytes.Equal(cur, b) {
			return nil
		}
		return fmt.Errorf("ledger %s holds another manifest than revision %d of %s", key, m.Revision, m.Folder)
	}
	return err
}

// point makes the manifest pointer a copy of revision rev (b) unless it
// already names a newer one. Conditional writes keep two writers from
// moving it backwards.
func point(ctx context.Context, st sink.Store, folder string, rev int, b []byte) error {
	key := folder + "/" + ManifestName
	for range 5 {
		cur, tag, err := st.GetTag(ctx, key)
		if errors.Is(err, sink.ErrNotFound) {
			err = st.Create(ctx, key, b)
			if errors.Is(err, sink.ErrExists) {
				continue
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		if m, derr := Decode(cur); derr == nil && m.Revision >= rev {
			return nil
		}
		err = st.ReplaceIf(ctx, key, b, tag)
		if errors.Is(err, sink.ErrChanged) {
			continue
		}
		return err
	}
	return fmt.Errorf("update %s: too many concurrent writers", key)
}

// Finish completes a revision that exists: its ledger copy and the
// pointer (what a writer that stopped after creating it left undone).
func Finish(ctx context.Context, st sink.Store, folder string, m *Manifest) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if err := record(ctx, st, m, b); err != nil {
		return err
	}
	return point(ctx, st, folder, m.Revision, b)
}
