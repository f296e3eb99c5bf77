package seal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"flowlake/schema"
)

// Object names inside an hour's folder. Both start with an underscore, which
// Athena, Hive and Spark skip when reading the table.
const (
	// ManifestName is the hour's latest manifest (a copy of its newest
	// revision).
	ManifestName = "_flowlake_manifest.json"
	// revisionPrefix starts the name of every revision; the number follows,
	// zero-padded to six digits so names sort by revision.
	revisionPrefix = "_flowlake_manifest.rev-"
)

// Manifest kinds.
const (
	KindLake    = "lake"
	KindArchive = "archive"
)

// RevisionName is the object name of revision n.
func RevisionName(n int) string { return fmt.Sprintf("%s%06d.json", revisionPrefix, n) }

// IsControlName reports whether an object name in an hour folder is not a
// data file: manifests, revisions, and anything hidden (a leading `_` or
// `.`), which query engines skip.
func IsControlName(name string) bool {
	return strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")
}

// Manifest describes what an hour holds at one revision.
type Manifest struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"`
	// Revision counts from 1 (the seal); each later revision adds files.
	Revision  int    `json:"revision"`
	AccountID string `json:"account_id"`
	Region    string `json:"region"`
	// Hour is the hour's start, RFC 3339 UTC.
	Hour string `json:"hour"`
	// Folder is the hour's folder relative to the store's root.
	Folder string `json:"folder"`
	// Rows is the hour's total rows over all files of this revision.
	Rows int64 `json:"rows"`
	// Files lists every data file of the hour, old and new.
	Files []File `json:"files"`
	// Totals sums Files.
	Totals Totals `json:"totals"`
	// Sources are the Kafka positions the hour's rows came from (lake).
	Sources []Source `json:"sources,omitempty"`
	// DeadLetters are the dead letters of the hour (lake; see DeadLetters).
	DeadLetters *DeadLetters `json:"dead_letters,omitempty"`
	// Watermark is what allowed the seal (lake).
	Watermark *Watermark `json:"watermark,omitempty"`
	// Lake says which lake revision an archive manifest covers (archive).
	Lake *LakeRef `json:"lake,omitempty"`
	// SealedAt is when this revision was written; FirstSealedAt when
	// revision 1 was.
	SealedAt      string `json:"sealed_at"`
	FirstSealedAt string `json:"first_sealed_at"`
	// SealedBy names the writer (host and process).
	SealedBy string `json:"sealed_by"`
	// Added names the files this revision added (every file for revision
	// 1), and AddedRows their rows: for revision 2 on, the late rows.
	Added     []string `json:"added"`
	AddedRows int64    `json:"added_rows"`
	// Previous is the previous revision's SHA-256, chaining revisions so a
	// rewritten revision is evident.
	Previous *RevisionRef `json:"previous,omitempty"`
}

// File is one data file of an hour.
type File struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Revision is the manifest revision that added the file.
	Revision int `json:"revision"`
	// MinStart and MaxStart bound the rows' start times (Unix seconds).
	MinStart int64 `json:"min_start,omitempty"`
	MaxStart int64 `json:"max_start,omitempty"`
	// Source is where a lake file's rows came from.
	Source *FileSource `json:"source,omitempty"`
}

// FileSource is a lake file's Kafka range, from its Parquet metadata.
type FileSource struct {
	Topic       string `json:"topic"`
	Partition   int    `json:"partition"`
	FirstOffset int64  `json:"first_offset"`
	LastOffset  int64  `json:"last_offset"`
	// Objects, for a backfilled file (topic is then the archive folder,
	// offsets object index << 32 | line base), names the archive objects
	// and lines of its first and last rows.
	Objects *ObjectRange `json:"objects,omitempty"`
}

// ObjectRange is a range of archive lines: from the first object and line
// to the last, both included, in the folder's object order.
type ObjectRange struct {
	FirstObject string `json:"first_object"`
	FirstLine   int64  `json:"first_line"`
	LastObject  string `json:"last_object"`
	LastLine    int64  `json:"last_line"`
}

// Totals sums an hour's files.
type Totals struct {
	Files int   `json:"files"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// LateRows are rows added by revisions after the first.
	LateRows int64 `json:"late_rows"`
}

// Source is the Kafka offsets of one partition that an hour's rows came from.
type Source struct {
	Topic       string `json:"topic"`
	Partition   int    `json:"partition"`
	FirstOffset int64  `json:"first_offset"`
	LastOffset  int64  `json:"last_offset"`
	Files       int    `json:"files"`
	Rows        int64  `json:"rows"`
	// Objects, for a backfill, is the archive range the offsets span.
	Objects *ObjectRange `json:"objects,omitempty"`
}

// DeadLetters are the dead letters stored for the hour. A dead letter has
// no trustworthy account (it did not parse), so it is attributed by its
// Kafka message time: every account's manifest of the hour lists the same
// dead-letter objects.
type DeadLetters struct {
	Attribution string   `json:"attribution"`
	Count       int64    `json:"count"`
	Objects     []string `json:"objects"`
}

// Watermark records the seal decision.
type Watermark struct {
	// LatenessSeconds is the allowed lateness after the hour's end.
	LatenessSeconds int64 `json:"lateness_seconds"`
	// Partitions are the partitions' states when the seal was decided
	// (for a backfill: the archive folders with objects in the hour's
	// delivery window; topic is the folder).
	Partitions []PartitionMark `json:"partitions"`
	// Delivery, for a backfill, is the rule that allowed the seal.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// Delivery records a backfill's seal decision: every object of the
// archive named in the hour's delivery window was in the plan and durable.
type Delivery struct {
	// Rule states the delivery rule in words.
	Rule string `json:"rule"`
	// WindowStart and WindowEnd bound the object times (RFC 3339,
	// end excluded) that may hold the hour's records.
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	// CoveredFrom and CoveredUntil bound the object times the backfill
	// (with the complete folders of the adjoining days) covered; empty
	// when open.
	CoveredFrom  string `json:"covered_from,omitempty"`
	CoveredUntil string `json:"covered_until,omitempty"`
	// Objects counts the planned objects named in the window.
	Objects int `json:"objects"`
}

// PartitionMark is one partition's state at a seal.
type PartitionMark struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	// Watermark is RFC 3339, empty when the partition has none yet.
	Watermark  string `json:"watermark,omitempty"`
	NextOffset int64  `json:"next_offset"`
	EndOffset  int64  `json:"end_offset"`
	CaughtUp   bool   `json:"caught_up"`
}

// LakeRef ties an archive manifest to the lake manifest it copied.
type LakeRef struct {
	Revision int   `json:"revision"`
	Rows     int64 `json:"rows"`
	Files    int   `json:"files"`
}

// RevisionRef names a revision by number and content hash.
type RevisionRef struct {
	Revision int    `json:"revision"`
	SHA256   string `json:"sha256"`
}

// Key returns the manifest's hour.
func (m *Manifest) Key() (schema.PartitionKey, error) {
	t, err := time.Parse(time.RFC3339, m.Hour)
	if err != nil {
		return schema.PartitionKey{}, fmt.Errorf("manifest hour %q: %w", m.Hour, err)
	}
	return schema.PartitionKey{Account: m.AccountID, Region: m.Region, Hour: t.Unix()}, nil
}

// Encode returns the manifest as indented JSON.
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// Decode parses a manifest and checks that it is one.
func Decode(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if m.Version != 1 || m.Revision < 1 || (m.Kind != KindLake && m.Kind != KindArchive) {
		return nil, fmt.Errorf("not a flowlake manifest (version %d, kind %q, revision %d)", m.Version, m.Kind, m.Revision)
	}
	return &m, nil
}

// SHA256 returns the hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// HourFolder is the folder of k relative to a store's root.
func HourFolder(k schema.PartitionKey) string { return schema.HiveDir("", k) }

// HourString formats an hour start as the manifest does.
func HourString(h int64) string { return time.Unix(h, 0).UTC().Format(time.RFC3339) }

// ParseFolder parses `.../AWSLogs/aws-account-id=A/aws-service=vpcflowlogs/aws-region=R/year=Y/month=M/day=D/hour=H`
// (a key's directory) into its hour, or reports false.
func ParseFolder(dir string) (schema.PartitionKey, bool) {
	parts := strings.Split(dir, "/")
	if len(parts) < 8 {
		return schema.PartitionKey{}, false
	}
	p := parts[len(parts)-8:]
	if p[0] != "AWSLogs" || p[2] != "aws-service=vpcflowlogs" {
		return schema.PartitionKey{}, false
	}
	acct, ok1 := strings.CutPrefix(p[1], "aws-account-id=")
	region, ok2 := strings.CutPrefix(p[3], "aws-region=")
	if !ok1 || !ok2 || acct == "" || region == "" {
		return schema.PartitionKey{}, false
	}
	var y, mo, d, h int
	if _, err := fmt.Sscanf(strings.Join(p[4:], "/"), "year=%04d/month=%02d/day=%02d/hour=%02d", &y, &mo, &d, &h); err != nil {
		return schema.PartitionKey{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, 0, 0, 0, time.UTC)
	k := schema.PartitionKey{Account: acct, Region: region, Hour: t.Unix()}
	if HourFolder(k) != strings.Join(p, "/") {
		return schema.PartitionKey{}, false
	}
	return k, true
}

// SplitKey splits an object key into its folder and name.
func SplitKey(key string) (dir, name string) {
	d, n := path.Split(key)
	return strings.TrimSuffix(d, "/"), n
}
