package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFormatErrors(t *testing.T) {
	tests := []struct{ format, wantIn string }{
		{"", "empty format"},
		{"   ", "empty format"},
		{"${version} ${bogus}", `"bogus"`},
		{"${version} ${version}", `"version" appears twice`},
		{"${version} srcaddr", `"srcaddr"`},
		{"${version} ${resource-id}", `"resource-id" is newer`},
	}
	for _, tt := range tests {
		_, err := ParseFormat(tt.format)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.wantIn) {
			t.Errorf("ParseFormat(%q) = %v, want an error naming %s", tt.format, err, tt.wantIn)
		}
	}
}

func TestFormatVersionsAndHeader(t *testing.T) {
	tests := []struct {
		format  string
		version int
	}{
		{DefaultFormatText, 2},
		{"${version} ${vpc-id} ${start}", 3},
		{"${version} ${account-id} ${region} ${start}", 4},
		{"${flow-direction} ${start}", 5},
		{"${ecs-task-id} ${start}", 7},
		{"${reject-reason} ${start}", 8},
	}
	for _, tt := range tests {
		f, err := ParseFormat(tt.format)
		if err != nil {
			t.Fatal(err)
		}
		if f.Version() != tt.version {
			t.Errorf("%s: version %d, want %d", tt.format, f.Version(), tt.version)
		}
		h, err := ParseHeader([]byte(f.Header()))
		if err != nil || h.String() != f.String() {
			t.Errorf("header round trip of %s: %v %v", tt.format, h, err)
		}
	}
	if DefaultFormat.Header() != "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status" {
		t.Errorf("default header %q", DefaultFormat.Header())
	}
	if !LooksLikeHeader([]byte(DefaultFormat.Header())) || LooksLikeHeader([]byte("2 123456789012 eni-1")) {
		t.Error("LooksLikeHeader")
	}
}

func TestCatalogue(t *testing.T) {
	for id := FieldID(0); id < NumFields; id++ {
		fi := Fields[id]
		if fi.Column == "" {
			t.Errorf("field %d has no column", id)
		}
		if id < NumFlowFields && (fi.Token == "" || fi.Version < 2) {
			t.Errorf("field %d: %+v", id, fi)
		}
	}
	int32s := map[FieldID]bool{Version: true, SrcPort: true, DstPort: true, Protocol: true, TCPFlags: true, TrafficPath: true}
	int64s := map[FieldID]bool{Packets: true, Bytes: true, Start: true, End: true}
	for id := FieldID(0); id < NumFlowFields; id++ {
		want := KindString
		if int32s[id] {
			want = KindInt32
		} else if int64s[id] {
			want = KindInt64
		}
		if Fields[id].Kind != want {
			t.Errorf("%s kind %s, want %s", id, Fields[id].Kind, want)
		}
	}
	if Fields[LogStatus].Column != "log_status" || Fields[PktSrcAWSService].Column != "pkt_src_aws_service" {
		t.Error("column names")
	}
}
