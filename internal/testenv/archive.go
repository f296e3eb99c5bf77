package testenv

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// FlowArchive is a flow log archive written to a bucket the way AWS
// delivers to S3, with what a reader must find in it.
type FlowArchive struct {
	Bucket, Prefix string
	// Rows are the good records as RowKey renders them (region first: the
	// region of the Hive partition they must land in).
	Rows []string
	// Bad are the bad lines as "s3://bucket/key:line" (line 0: the rest
	// of the object is unreadable).
	Bad []string
	// Objects are every object written, Days the days they cover.
	Objects []string
	Days    []time.Time
}

// RowKeyColumns are the columns RowKey renders (every format here has
// them).
var RowKeyColumns = []string{"account_id", "interface_id", "srcaddr", "dstaddr", "srcport", "dstport", "start"}

// ArchiveSpec shapes an archive.
type ArchiveSpec struct {
	Accounts []string // the first half default layout, the rest Hive
	Regions  []string
	Days     []time.Time
	// ObjectsPerDay and LinesPerObject size it.
	ObjectsPerDay, LinesPerObject int
}

const (
	v2Header       = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
	regionalHeader = "version account-id region interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
)

// WriteFlowArchive writes an archive into bucket/prefix: default-layout
// folders with the v2 header (no region: it comes from the path), Hive
// folders with hour sub-folders and a header that carries the region, one
// plain .log object, bad lines every so often, one object with a garbage
// gzip header and one whose gzip checksum is wrong (its lines decode, the
// stream does not end well), and a Parquet delivery that is not read.
func WriteFlowArchive(t testing.TB, s *S3Server, bucket, prefix string, spec ArchiveSpec) *FlowArchive {
	t.Helper()
	a := &FlowArchive{Bucket: bucket, Prefix: prefix, Days: spec.Days}
	client := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put := func(key string, body []byte) {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		a.Objects = append(a.Objects, key)
	}
	root := prefix
	if root != "" {
		root += "/"
	}
	port := 1024
	n := 0
	for ai, acct := range spec.Accounts {
		hive := ai >= (len(spec.Accounts)+1)/2
		for _, region := range spec.Regions {
			for _, day := range spec.Days {
				for o := 0; o < spec.ObjectsPerDay; o++ {
					n++
					at := day.Add(time.Duration(o*23/max(spec.ObjectsPerDay, 1)) * time.Hour).Add(5 * time.Minute)
					name := fmt.Sprintf("%s_vpcflowlogs_%s_fl-0a1b2c3d4e5f60718_%s_%08x", acct, region, at.Format("20060102T1504Z"), crc32.ChecksumIEEE([]byte(fmt.Sprint(n))))
					var key, header string
					if hive {
						key = fmt.Sprintf("%sAWSLogs/aws-account-id=%s/aws-service=vpcflowlogs/aws-region=%s/year=%04d/month=%02d/day=%02d/hour=%02d/%s.log.gz",
							root, acct, region, at.Year(), int(at.Month()), at.Day(), at.Hour(), name)
						header = regionalHeader
					} else {
						key = fmt.Sprintf("%sAWSLogs/%s/vpcflowlogs/%s/%04d/%02d/%02d/%s.log.gz", root, acct, region, at.Year(), int(at.Month()), at.Day(), name)
						header = v2Header
					}
					plain := n == 2
					if plain {
						key = strings.TrimSuffix(key, ".gz")
					}
					url := "s3://" + bucket + "/" + key
					var text strings.Builder
					text.WriteString(header + "\n")
					for l := 2; l <= spec.LinesPerObject+1; l++ {
						port = 1024 + (port-1023)%60000 // unique enough with the interface and address
						start := at.Unix() + int64(l%300)
						eni := fmt.Sprintf("eni-%017x", n)
						src, dst := fmt.Sprintf("10.%d.%d.%d", ai, l/250, l%250), "10.9.0.1"
						var rec string
						if hive {
							rec = fmt.Sprintf("2 %s %s %s %s %s %d 443 6 10 840 %d %d ACCEPT OK", acct, region, eni, src, dst, port, start, start+60)
						} else {
							rec = fmt.Sprintf("2 %s %s %s %s %d 443 6 10 840 %d %d ACCEPT OK", acct, eni, src, dst, port, start, start+60)
						}
						switch {
						case l%97 == 0:
							rec = strings.Replace(rec, src, "10.0.0.300", 1)
							a.Bad = append(a.Bad, fmt.Sprintf("%s:%d", url, l))
						case l%151 == 0:
							rec = "garbage that is no record"
							a.Bad = append(a.Bad, fmt.Sprintf("%s:%d", url, l))
						default:
							a.Rows = append(a.Rows, fmt.Sprintf("%s|%s %s %s %s %d 443 %d", region, acct, eni, src, dst, port, start))
						}
						text.WriteString(rec + "\n")
					}
					body := []byte(text.String())
					if !plain {
						body = gzipBytes(t, body)
					}
					if n == 3 {
						// A wrong CRC-32 in the trailer: every line decodes, the
						// stream then fails.
						body[len(body)-8] ^= 0xff
						a.Bad = append(a.Bad, url+":0")
					}
					put(key, body)
				}
			}
		}
	}
	// A garbage gzip object: nothing decodes.
	d := spec.Days[0]
	garbage := fmt.Sprintf("%sAWSLogs/%s/vpcflowlogs/%s/%04d/%02d/%02d/%s_vpcflowlogs_%s_fl-0a1b2c3d4e5f60718_%sT2355Z_deadbeef.log.gz",
		root, spec.Accounts[0], spec.Regions[0], d.Year(), int(d.Month()), d.Day(), spec.Accounts[0], spec.Regions[0], d.Format("20060102"))
	put(garbage, append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{0x5a}, 300)...))
	a.Bad = append(a.Bad, "s3://"+bucket+"/"+garbage+":0")
	// A Parquet delivery beside the text: listed as ignored, never read.
	put(strings.TrimSuffix(garbage, ".log.gz")+"1.log.parquet", []byte("PAR1 not read"))
	a.Objects = a.Objects[:len(a.Objects)-1]
	sort.Strings(a.Rows)
	sort.Strings(a.Bad)
	return a
}

func gzipBytes(t testing.TB, b []byte) []byte {
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

// LakeRows reads every Parquet file under dir with Arrow's reader and
// renders each row as the archive's Rows do, with the region of the file's
// Hive partition.
func LakeRows(t testing.TB, dir string) []string {
	t.Helper()
	var rows []string
	for rel, f := range ReadParquetDir(t, dir) {
		_, after, ok := strings.Cut(filepath.ToSlash(rel), "aws-region=")
		if !ok {
			t.Fatalf("%s is not in a Hive partition", rel)
		}
		region, _, _ := strings.Cut(after, "/")
		for _, r := range f.RowStrings(RowKeyColumns) {
			rows = append(rows, region+"|"+r)
		}
	}
	sort.Strings(rows)
	return rows
}

// ArchiveDeadLetters reads the backfill dead letters under dir/_dead_letters
// as "object:line" strings.
func ArchiveDeadLetters(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dir, "_dead_letters")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".jsonl") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var r struct {
				Object string `json:"object"`
				Line   int64  `json:"line"`
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal(line, &r); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if r.Object == "" || r.Reason == "" {
				return fmt.Errorf("%s: dead letter without object or reason: %s", path, line)
			}
			out = append(out, fmt.Sprintf("%s:%d", r.Object, r.Line))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
