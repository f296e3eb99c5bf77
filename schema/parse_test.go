package schema

import (
	"errors"
	"strings"
	"testing"
)

// value renders a field of r as its text form ("-" for null).
func value(r *Record, id FieldID) string {
	if !r.IsSet(id) {
		return "-"
	}
	if Fields[id].Kind == KindString {
		return string(r.Str[id])
	}
	return itoa(r.Int[id])
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

func TestParseAWSExamples(t *testing.T) {
	v5 := MustParseFormat("${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${type} ${packets} ${bytes} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${action} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} ${flow-direction} ${log-status}")
	tests := []struct {
		name   string
		format *Format
		line   string
		want   map[FieldID]string
		ints   map[FieldID]int64
	}{
		{
			name: "accepted SSH", format: DefaultFormat,
			line: "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
			want: map[FieldID]string{AccountID: "123456789010", InterfaceID: "eni-1235b8ca123456789", SrcAddr: "172.31.16.139",
				DstAddr: "172.31.16.21", Action: "ACCEPT", LogStatus: "OK"},
			ints: map[FieldID]int64{Version: 2, SrcPort: 20641, DstPort: 22, Protocol: 6, Packets: 20, Bytes: 4249, Start: 1418530010, End: 1418530070},
		},
		{
			name: "NODATA", format: DefaultFormat,
			line: "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
			want: map[FieldID]string{AccountID: "123456789010", InterfaceID: "eni-1235b8ca123456789", SrcAddr: "-", DstAddr: "-",
				SrcPort: "-", DstPort: "-", Protocol: "-", Packets: "-", Bytes: "-", Action: "-", LogStatus: "NODATA"},
			ints: map[FieldID]int64{Version: 2, Start: 1431280876, End: 1431280934},
		},
		{
			name: "SKIPDATA", format: DefaultFormat,
			line: "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
			want: map[FieldID]string{InterfaceID: "eni-11111111aaaaaaaaa", LogStatus: "SKIPDATA", Action: "-", SrcAddr: "-"},
			ints: map[FieldID]int64{Start: 1431280876, End: 1431280934},
		},
		{
			name: "v5 custom format", format: v5,
			line: "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK",
			want: map[FieldID]string{SrcAddr: "10.0.0.71", DstAddr: "52.95.128.179", Type: "IPv4", AccountID: "123456789012",
				VpcID: "vpc-abcdefab012345678", SubnetID: "subnet-aaaaaaaa012345678", InstanceID: "i-0c50d5961bcb2d47b",
				InterfaceID: "eni-1235b8ca123456789", Region: "ap-southeast-2", AzID: "apse2-az3", SublocationType: "-",
				SublocationID: "-", Action: "ACCEPT", PktSrcAddr: "10.0.0.71", PktDstAddr: "52.95.128.179",
				PktSrcAWSService: "-", PktDstAWSService: "S3", FlowDirection: "egress", LogStatus: "OK"},
			ints: map[FieldID]int64{Version: 5, SrcPort: 34210, DstPort: 80, Protocol: 6, Start: 1616729292, End: 1616729349,
				Packets: 7, Bytes: 471, TCPFlags: 3, TrafficPath: 8},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := NewParser(tt.format, 0).Parse([]byte(tt.line), &r); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for id, want := range tt.want {
				if got := value(&r, id); got != want {
					t.Errorf("%s = %q, want %q", id, got, want)
				}
			}
			for id, want := range tt.ints {
				if !r.IsSet(id) || r.Int[id] != want {
					t.Errorf("%s = %v (set %v), want %d", id, r.Int[id], r.IsSet(id), want)
				}
			}
			// Every field round-trips to the input text.
			var parts []string
			for _, id := range tt.format.Fields() {
				parts = append(parts, value(&r, id))
			}
			if got := strings.Join(parts, " "); got != tt.line {
				t.Errorf("round trip\n got %s\nwant %s", got, tt.line)
			}
		})
	}
	if v5.Version() != 5 || DefaultFormat.Version() != 2 {
		t.Errorf("versions: v5 format %d, default %d", v5.Version(), DefaultFormat.Version())
	}
}

func TestParseRejects(t *testing.T) {
	good := "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
	repl := func(i int, v string) string {
		f := strings.Split(good, " ")
		f[i] = v
		return strings.Join(f, " ")
	}
	tests := []struct {
		name  string
		line  string
		want  Reason
		field string
	}{
		{"truncated", good[:40], ReasonFieldCount, ""},
		{"extra field", good + " EXTRA", ReasonFieldCount, ""},
		{"empty", "", ReasonFieldCount, ""},
		{"double space", strings.Replace(good, " ", "  ", 1), ReasonFieldCount, ""},
		{"missing value", strings.Replace(good, "eni-1235b8ca123456789 ", " ", 1), ReasonEmptyField, "interface-id"},
		{"trailing space", good + " ", ReasonFieldCount, ""},
		{"non-numeric port", repl(5, "http"), ReasonBadInt, "srcport"},
		{"negative bytes", repl(9, "-5"), ReasonBadInt, "bytes"},
		{"port too big", repl(6, "65536"), ReasonOutOfRange, "dstport"},
		{"protocol too big", repl(7, "256"), ReasonOutOfRange, "protocol"},
		{"huge number", repl(8, "99999999999999999999"), ReasonBadInt, "packets"},
		{"version over int32", repl(0, "2147483648"), ReasonOutOfRange, "version"},
		{"bad ipv4", repl(3, "172.31.16.256"), ReasonBadAddr, "srcaddr"},
		{"ipv4 leading zero", repl(3, "172.031.16.1"), ReasonBadAddr, "srcaddr"},
		{"hostname", repl(4, "example.com"), ReasonBadAddr, "dstaddr"},
		{"bad ipv6", repl(4, "2001:db8::zz"), ReasonBadAddr, "dstaddr"},
		{"short account", repl(1, "12345"), ReasonBadAccount, "account-id"},
		{"path injection account", repl(1, "../../x"), ReasonBadAccount, "account-id"},
		{"bad action", repl(12, "ALLOW"), ReasonBadAction, "action"},
		{"bad status", repl(13, "MAYBE"), ReasonBadStatus, "log-status"},
		{"invalid utf8", repl(2, "eni-\xff\xfe"), ReasonBadUTF8, ""},
		{"too long", good + strings.Repeat("x", DefaultMaxLineBytes), ReasonTooLong, ""},
	}
	p := NewParser(DefaultFormat, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			err := p.Parse([]byte(tt.line), &r)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, want a *ParseError", tt.line, err)
			}
			if pe.Reason != tt.want || pe.Field != tt.field {
				t.Errorf("reason %s field %q (%v), want %s field %q", pe.Reason, pe.Field, pe, tt.want, tt.field)
			}
		})
	}
}

func TestParseIPv6AndUnknownAccount(t *testing.T) {
	line := "2 unknown eni-0a1b2c3d4e5f60718 2001:db8::1 fe80::abcd:1 443 51000 6 3 300 1700000000 1700000060 REJECT OK"
	var r Record
	if err := NewParser(DefaultFormat, 0).Parse([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	if value(&r, SrcAddr) != "2001:db8::1" || value(&r, AccountID) != "unknown" {
		t.Fatalf("got %s %s", value(&r, SrcAddr), value(&r, AccountID))
	}
}

func TestParseRegionSafety(t *testing.T) {
	f := MustParseFormat("${version} ${account-id} ${region} ${start}")
	p := NewParser(f, 0)
	for _, region := range []string{"us-east-1/../x", "../eu", "US-EAST-1", "us_east_1", "x"} {
		var r Record
		err := p.Parse([]byte("4 123456789012 "+region+" 1700000000"), &r)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Reason != ReasonBadRegion {
			t.Errorf("region %q: err %v, want bad_region", region, err)
		}
	}
	var r Record
	if err := p.Parse([]byte("4 123456789012 us-gov-west-1 1700000000"), &r); err != nil {
		t.Errorf("us-gov-west-1: %v", err)
	}
}

func TestParseNoAllocs(t *testing.T) {
	line := []byte("2 123456789010 eni-1235b8ca123456789 2001:db8::1 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
	p := NewParser(DefaultFormat, 0)
	var r Record
	allocs := testing.AllocsPerRun(1000, func() {
		if err := p.Parse(line, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %.1f times per record", allocs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
	f.Add("2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA")
	f.Add("2 unknown eni-1 ::1 ::ffff:1.2.3.4 0 65535 255 0 0 0 0 REJECT SKIPDATA")
	f.Add("")
	p := NewParser(DefaultFormat, 0)
	f.Fuzz(func(t *testing.T, line string) {
		var r Record
		err := p.Parse([]byte(line), &r)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// A parsed record re-renders to exactly the input.
		var parts []string
		for _, id := range DefaultFormat.Fields() {
			parts = append(parts, value(&r, id))
		}
		if got := strings.Join(parts, " "); got != line {
			// Integers may have had leading zeros; they must still be numbers.
			for _, id := range DefaultFormat.Fields() {
				if Fields[id].Kind == KindString && r.IsSet(id) && !strings.Contains(line, string(r.Str[id])) {
					t.Fatalf("field %s = %q not in the line", id, r.Str[id])
				}
			}
		}
		if r.IsSet(AccountID) && !ValidAccount(r.Str[AccountID]) {
			t.Fatalf("accepted account %q", r.Str[AccountID])
		}
		if r.IsSet(SrcPort) && (r.Int[SrcPort] < 0 || r.Int[SrcPort] > 65535) {
			t.Fatalf("accepted port %d", r.Int[SrcPort])
		}
		// No accepted string holds a control character, an IPv6 zone or
		// a path fragment.
		for _, id := range DefaultFormat.Fields() {
			v := string(r.Str[id])
			if Fields[id].Kind == KindString && r.IsSet(id) && (strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }) ||
				strings.Contains(v, "%") || strings.Contains(v, "../")) {
				t.Fatalf("accepted %s = %q", Fields[id].Token, v)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	lines := [][]byte{
		[]byte("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"),
		[]byte("2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"),
		[]byte("2 210987654321 eni-0a1b2c3d4e5f60718 10.20.30.40 52.95.128.179 443 51000 6 3 300 1700000000 1700000060 REJECT OK"),
		[]byte("2 210987654321 eni-0a1b2c3d4e5f60718 2001:db8::1 2001:db8::2 443 51000 17 3 300 1700000000 1700000060 ACCEPT OK"),
	}
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	p := NewParser(DefaultFormat, 0)
	var r Record
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if err := p.Parse(l, &r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "records/s")
}
