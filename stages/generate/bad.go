package generate

import (
	"strconv"

	"flowlake/schema"
)

// badKind is a way to break a line.
type badKind uint8

const (
	badTruncated  badKind = iota // the line stops after some fields
	badExtraField                // one value too many
	badEmptyField                // an empty value: two spaces in a row, or one at an end
	badNotInt                    // a non-numeric value in an integer field
	badOutOfRange                // a port, protocol or integer beyond its range
	badAddr                      // an address that is neither IPv4 nor IPv6
	badAccount                   // not 12 digits
	badAction                    // not ACCEPT or REJECT
	badStatus                    // not OK, NODATA or SKIPDATA
	badRegion                    // not a region name
	badUTF8                      // invalid UTF-8
)

// badReasons is the reason schema.Parser gives for each kind.
var badReasons = [...]schema.Reason{
	badTruncated:  schema.ReasonFieldCount,
	badExtraField: schema.ReasonFieldCount,
	badEmptyField: schema.ReasonEmptyField,
	badNotInt:     schema.ReasonBadInt,
	badOutOfRange: schema.ReasonOutOfRange,
	badAddr:       schema.ReasonBadAddr,
	badAccount:    schema.ReasonBadAccount,
	badAction:     schema.ReasonBadAction,
	badStatus:     schema.ReasonBadStatus,
	badRegion:     schema.ReasonBadRegion,
	badUTF8:       schema.ReasonBadUTF8,
}

var (
	intFields  = []schema.FieldID{schema.Version, schema.SrcPort, schema.DstPort, schema.Protocol, schema.Packets, schema.Bytes, schema.Start, schema.End, schema.TCPFlags, schema.TrafficPath}
	addrFields = []schema.FieldID{schema.SrcAddr, schema.DstAddr, schema.PktSrcAddr, schema.PktDstAddr}

	notInts        = []string{"http", "ssh", "-1", "80a", "0x1bb", "1.5e3", "12,345", "NaN", "one"}
	badAddrs       = []string{"10.0.0.256", "10.0.1", "172.31.16.139.5", "fe80::zz1", "not-an-ip", "10.00.1.2", "2001:db8::1::2", "1.2.3.-4"}
	badAccts       = []string{"12345678901", "1234567890123", "acct-12345678", "12345678901a"}
	badActions     = []string{"ALLOW", "accept", "DROP", "DENY"}
	badLogStatuses = []string{"FAILED", "ok", "NO_DATA", "ERROR"}
	badRegions     = []string{"US-EAST-1", "useast1", "us_east_1", "us-east-", "eu--west-1"}
)

// badKindsFor lists the kinds that apply to a format. Invalid UTF-8 cannot
// travel in a CloudWatch Logs JSON payload, so that envelope never gets it.
func badKindsFor(f *schema.Format, envelope string) []badKind {
	kinds := []badKind{badExtraField}
	if f.Len() >= 2 {
		kinds = append(kinds, badTruncated, badEmptyField)
	}
	if hasAny(f, intFields) {
		kinds = append(kinds, badNotInt, badOutOfRange)
	}
	if hasAny(f, addrFields) {
		kinds = append(kinds, badAddr, badAddr)
	}
	for _, k := range []struct {
		id   schema.FieldID
		kind badKind
	}{{schema.AccountID, badAccount}, {schema.Action, badAction}, {schema.LogStatus, badStatus}, {schema.Region, badRegion}} {
		if f.Has(k.id) {
			kinds = append(kinds, k.kind)
		}
	}
	if envelope != EnvelopeCloudWatch {
		kinds = append(kinds, badUTF8)
	}
	return kinds
}

func hasAny(f *schema.Format, ids []schema.FieldID) bool {
	for _, id := range ids {
		if f.Has(id) {
			return true
		}
	}
	return false
}

// positionsOf returns the positions in the line of those of ids the format has.
func (g *Generator) positionsOf(ids []schema.FieldID) []int {
	var pos []int
	for i, id := range g.fields {
		for _, want := range ids {
			if id == want {
				pos = append(pos, i)
			}
		}
	}
	return pos
}

// fieldSpan returns the byte range of the i-th value of line.
func fieldSpan(line []byte, i int) (from, to int) {
	n := 0
	for j := 0; j <= len(line); j++ {
		if j == len(line) || line[j] == ' ' {
			if n == i {
				return from, j
			}
			n++
			from = j + 1
		}
	}
	return len(line), len(line)
}

// mutate breaks the line that starts at text[from:] (a rendered OK record)
// and returns the new text and the reason the parser will give. It draws
// one value from g.r whatever it does, so that every envelope sees the same
// record stream.
func (g *Generator) mutate(text []byte, from int) ([]byte, schema.Reason) {
	lr := rng{s: g.r.next()}
	kind := g.badKinds[lr.intn(len(g.badKinds))]
	n := len(g.fields)
	line := text[from:]
	oneOf := func(vals []string) []byte { return []byte(vals[lr.intn(len(vals))]) }
	replace := func(pos int, val []byte) []byte {
		s, e := fieldSpan(line, pos)
		g.scratch = append(g.scratch[:0], line[e:]...)
		text = append(text[:from+s], val...)
		return append(text, g.scratch...)
	}
	switch kind {
	case badTruncated:
		_, e := fieldSpan(line, lr.intn(n-1))
		text = text[:from+e]
	case badExtraField:
		text = append(text, " -"...)
	case badEmptyField: // a value left out, its spaces kept
		text = replace(lr.intn(n), nil)
	case badNotInt:
		pos := g.positionsOf(intFields)
		text = replace(pos[lr.intn(len(pos))], oneOf(notInts))
	case badOutOfRange:
		pos := g.positionsOf(intFields)
		p := pos[lr.intn(len(pos))]
		var v uint64
		switch id := g.fields[p]; {
		case id == schema.SrcPort || id == schema.DstPort:
			v = 65536 + uint64(lr.intn(934463))
		case id == schema.Protocol:
			v = 256 + uint64(lr.intn(744))
		case schema.Fields[id].Kind == schema.KindInt32:
			v = 1<<31 + uint64(lr.intn(1<<31))
		default:
			v = 1<<63 + uint64(lr.intn(1e17))
		}
		text = replace(p, strconv.AppendUint(nil, v, 10))
	case badAddr:
		pos := g.positionsOf(addrFields)
		text = replace(pos[lr.intn(len(pos))], oneOf(badAddrs))
	case badAccount:
		text = replace(g.positionsOf([]schema.FieldID{schema.AccountID})[0], oneOf(badAccts))
	case badAction:
		text = replace(g.positionsOf([]schema.FieldID{schema.Action})[0], oneOf(badActions))
	case badStatus:
		text = replace(g.positionsOf([]schema.FieldID{schema.LogStatus})[0], oneOf(badLogStatuses))
	case badRegion:
		text = replace(g.positionsOf([]schema.FieldID{schema.Region})[0], oneOf(badRegions))
	case badUTF8:
		p := lr.intn(n)
		s, e := fieldSpan(line, p)
		val := append(append([]byte(nil), line[s:e]...), 0xff, 0xfe)
		text = replace(p, val)
	}
	return text, badReasons[kind]
}
