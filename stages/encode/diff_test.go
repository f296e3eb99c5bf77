package encode

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// fileDiff describes where two Parquet files first differ: the byte, and
// the first footer field (of their decoded metadata) that differs.
func fileDiff(got, want []byte) string {
	at := 0
	for at < min(len(got), len(want)) && got[at] == want[at] {
		at++
	}
	msg := fmt.Sprintf("first difference at byte %d", at)
	fg, err := parquet.OpenFile(bytes.NewReader(got), int64(len(got)))
	if err != nil {
		return msg + fmt.Sprintf("; got does not open: %v", err)
	}
	fw, err := parquet.OpenFile(bytes.NewReader(want), int64(len(want)))
	if err != nil {
		return msg + fmt.Sprintf("; want does not open: %v", err)
	}
	if d := firstDiff("metadata", reflect.ValueOf(*fg.Metadata()), reflect.ValueOf(*fw.Metadata())); d != "" {
		return msg + "; " + d
	}
	if d := firstDiff("column indexes", reflect.ValueOf(fg.ColumnIndexes()), reflect.ValueOf(fw.ColumnIndexes())); d != "" {
		return msg + "; " + d
	}
	if d := firstDiff("offset indexes", reflect.ValueOf(fg.OffsetIndexes()), reflect.ValueOf(fw.OffsetIndexes())); d != "" {
		return msg + "; " + d
	}
	return msg
}

var skipSizes = false

// firstDiff names the first field where a and b differ, with both values.
func firstDiff(path string, a, b reflect.Value) string {
	if a.Kind() != b.Kind() {
		return fmt.Sprintf("%s: kinds %v and %v", path, a.Kind(), b.Kind())
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if n := a.Type().Field(i).Name; skipSizes && (strings.HasSuffix(n, "Offset") || strings.HasSuffix(n, "Length") || strings.HasSuffix(n, "Size")) {
				continue
			}
			if d := firstDiff(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && a.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(a.Bytes(), b.Bytes()) || a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: %q (nil %v) and %q (nil %v)", path, a.Bytes(), a.IsNil(), b.Bytes(), b.IsNil())
			}
			return ""
		}
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: lengths %d and %d: %+v and %+v", path, a.Len(), b.Len(), a.Interface(), b.Interface())
		}
		for i := range a.Len() {
			if d := firstDiff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil %v and %v", path, a.IsNil(), b.IsNil())
			}
			return ""
		}
		return firstDiff(path, a.Elem(), b.Elem())
	case reflect.Map:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Sprintf("%s: %v and %v", path, a.Interface(), b.Interface())
		}
		return ""
	}
	if a.CanInterface() && !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %v and %v", path, a.Interface(), b.Interface())
	}
	return ""
}
