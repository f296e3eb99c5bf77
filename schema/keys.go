package schema

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
)

// PartitionKey places rows in AWS's Hive layout: one folder per account,
// region and UTC hour.
type PartitionKey struct {
	Account string
	Region  string
	// Hour is the Unix time, in seconds, of the start of the UTC hour.
	Hour int64
}

// Less orders keys by hour, then account, then region.
func (k PartitionKey) Less(o PartitionKey) bool {
	if k.Hour != o.Hour {
		return k.Hour < o.Hour
	}
	if k.Account != o.Account {
		return k.Account < o.Account
	}
	return k.Region < o.Region
}

// HourOf truncates a Unix time in seconds to its UTC hour.
func HourOf(unix int64) int64 {
	h := unix - unix%3600
	if unix < 0 && unix%3600 != 0 {
		h -= 3600
	}
	return h
}

// HiveDir returns the folder of k under prefix (which may be empty):
// `<prefix>/AWSLogs/aws-account-id=<acct>/aws-service=vpcflowlogs/aws-region=<region>/year=YYYY/month=MM/day=DD/hour=HH`.
func HiveDir(prefix string, k PartitionKey) string {
	t := time.Unix(k.Hour, 0).UTC()
	b := make([]byte, 0, 160)
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, '/')
	}
	b = append(b, "AWSLogs/aws-account-id="...)
	b = append(b, k.Account...)
	b = append(b, "/aws-service=vpcflowlogs/aws-region="...)
	b = append(b, k.Region...)
	b = append(b, "/year="...)
	b = appendPad(b, t.Year(), 4)
	b = append(b, "/month="...)
	b = appendPad(b, int(t.Month()), 2)
	b = append(b, "/day="...)
	b = appendPad(b, t.Day(), 2)
	b = append(b, "/hour="...)
	b = appendPad(b, t.Hour(), 2)
	return string(b)
}

// ObjectName returns AWS's file name for a batch of k:
// `<acct>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDD>T<HHmm>Z_<hash>.log.parquet`.
// HHmm is the start of the batch's hour.
func ObjectName(k PartitionKey, flowLogID, hash, ext string) string {
	t := time.Unix(k.Hour, 0).UTC()
	b := make([]byte, 0, 128)
	b = append(b, k.Account...)
	b = append(b, "_vpcflowlogs_"...)
	b = append(b, k.Region...)
	b = append(b, '_')
	b = append(b, flowLogID...)
	b = append(b, '_')
	b = appendPad(b, t.Year(), 4)
	b = appendPad(b, int(t.Month()), 2)
	b = appendPad(b, t.Day(), 2)
	b = append(b, 'T')
	b = appendPad(b, t.Hour(), 2)
	b = appendPad(b, t.Minute(), 2)
	b = append(b, "Z_"...)
	b = append(b, hash...)
	b = append(b, ext...)
	return string(b)
}

// ObjectKey is HiveDir and ObjectName joined.
func ObjectKey(prefix string, k PartitionKey, flowLogID, hash string) string {
	return HiveDir(prefix, k) + "/" + ObjectName(k, flowLogID, hash, ".log.parquet")
}

// BatchHash names a batch by where its first record came from. The same
// first record always gives the same name, so a replay of a batch overwrites
// the object written before a crash instead of adding a second one. It is 16
// hex digits (AWS uses 8): a collision would overwrite another batch, so the
// odds are kept negligible.
func BatchHash(topic string, partition int, first Pos) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(topic))
	var buf [20]byte
	binary.BigEndian.PutUint32(buf[0:4], uint32(partition))
	binary.BigEndian.PutUint64(buf[4:12], uint64(first.Offset))
	binary.BigEndian.PutUint64(buf[12:20], uint64(first.Line))
	_, _ = h.Write(buf[:])
	return fmt.Sprintf("%016x", h.Sum64())
}

func appendPad(b []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// HourMark is an hour a partition wrote files into that no manifest is
// known to cover yet, with the last offset it wrote there. It lives in the
// partition's checkpoint (stages/checkpoint) until a manifest covers that
// offset; the sealer (stages/seal) reads it from there.
type HourMark struct {
	Account    string `json:"account"`
	Region     string `json:"region"`
	Hour       int64  `json:"hour"`
	LastOffset int64  `json:"last_offset"`
}

// Key returns the mark's hour.
func (h HourMark) Key() PartitionKey {
	return PartitionKey{Account: h.Account, Region: h.Region, Hour: h.Hour}
}
