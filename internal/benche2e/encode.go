package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"flowlake/schema"
	"flowlake/stages/generate"
)

// v2Row is a version 2 flow log record as a plain parquet-go struct: the
// reference writer's view of the same rows flowlake writes.
type v2Row struct {
	Version     *int32  `parquet:"version,optional"`
	AccountID   *string `parquet:"account_id,optional,dict"`
	InterfaceID *string `parquet:"interface_id,optional,dict"`
	SrcAddr     *string `parquet:"srcaddr,optional"`
	DstAddr     *string `parquet:"dstaddr,optional"`
	SrcPort     *int32  `parquet:"srcport,optional"`
	DstPort     *int32  `parquet:"dstport,optional"`
	Protocol    *int32  `parquet:"protocol,optional"`
	Packets     *int64  `parquet:"packets,optional"`
	Bytes       *int64  `parquet:"bytes,optional"`
	Start       *int64  `parquet:"start,optional"`
	End         *int64  `parquet:"end,optional"`
	Action      *string `parquet:"action,optional,dict"`
	LogStatus   *string `parquet:"log_status,optional,dict"`
}

// encodeOnly generates n records like the loaded topic, parses them into
// structs (untimed) and times parquet-go's GenericWriter writing them in
// slices of rows with zstd (at the level flowlake writes by default) and
// dictionary strings, to a discarding writer:
// the rate of the Parquet library alone on these rows.
func encodeOnly(n, lines, accounts, hours int) (rows int, secs, cpu float64, err error) {
	g, err := generate.New(generate.Config{Records: n, LinesPerMsg: lines, Accounts: accounts, Hours: hours, Seed: 1})
	if err != nil {
		return 0, 0, 0, err
	}
	var text bytes.Buffer
	if err := generate.WriteText(context.Background(), &text, g); err != nil {
		return 0, 0, 0, err
	}
	p := schema.NewParser(schema.DefaultFormat, 0)
	recs := make([]v2Row, 0, n)
	var rec schema.Record
	for line := range bytes.Lines(text.Bytes()) {
		rec.Reset()
		if err := p.Parse(bytes.TrimSuffix(line, []byte("\n")), &rec); err != nil {
			continue
		}
		recs = append(recs, v2Row{
			Version: i32(&rec, schema.Version), AccountID: str(&rec, schema.AccountID), InterfaceID: str(&rec, schema.InterfaceID),
			SrcAddr: str(&rec, schema.SrcAddr), DstAddr: str(&rec, schema.DstAddr), SrcPort: i32(&rec, schema.SrcPort),
			DstPort: i32(&rec, schema.DstPort), Protocol: i32(&rec, schema.Protocol), Packets: i64(&rec, schema.Packets),
			Bytes: i64(&rec, schema.Bytes), Start: i64(&rec, schema.Start), End: i64(&rec, schema.End),
			Action: str(&rec, schema.Action), LogStatus: str(&rec, schema.LogStatus),
		})
	}
	if len(recs) == 0 {
		return 0, 0, 0, fmt.Errorf("no rows parsed")
	}
	runtime.GC()
	start, cpu0 := time.Now(), selfCPU()
	// One file per 1M rows at most, like flowlake's default batch.
	w := parquet.NewGenericWriter[v2Row](io.Discard, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.DataPageVersion(1), parquet.PageBufferSize(1<<20))
	for lo := 0; lo < len(recs); lo += 4096 {
		if _, err := w.Write(recs[lo:min(lo+4096, len(recs))]); err != nil {
			return 0, 0, 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, 0, 0, err
	}
	return len(recs), time.Since(start).Seconds(), selfCPU() - cpu0, nil
}

func i32(r *schema.Record, id schema.FieldID) *int32 {
	if !r.IsSet(id) {
		return nil
	}
	v := int32(r.Int[id])
	return &v
}

func i64(r *schema.Record, id schema.FieldID) *int64 {
	if !r.IsSet(id) {
		return nil
	}
	v := r.Int[id]
	return &v
}

func str(r *schema.Record, id schema.FieldID) *string {
	if !r.IsSet(id) {
		return nil
	}
	s := string(r.Str[id])
	return &s
}
