package testenv

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// LakeFile returns a Parquet file of rows one-column rows whose metadata
// names its stream and offsets as a flowlake writer's does
// (flowlake.topic, flowlake.partition, flowlake.first_offset,
// flowlake.last_offset): what sealing reads from a file.
func LakeFile(tb testing.TB, topic string, partition int, first, last int64, rows int) []byte {
	tb.Helper()
	type row struct {
		Srcport int32 `parquet:"srcport"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf,
		parquet.KeyValueMetadata("flowlake.topic", topic),
		parquet.KeyValueMetadata("flowlake.partition", strconv.Itoa(partition)),
		parquet.KeyValueMetadata("flowlake.first_offset", strconv.FormatInt(first, 10)),
		parquet.KeyValueMetadata("flowlake.last_offset", strconv.FormatInt(last, 10)))
	rs := make([]row, rows)
	for i := range rs {
		rs[i].Srcport = int32(i)
	}
	if _, err := w.Write(rs); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
