package generate

import (
	"strconv"
	"unicode/utf8"
)

// appendWriter is an io.Writer that appends to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// gzip appends the gzip compression of p to buf.
func (g *Generator) gzip(buf, p []byte) []byte {
	g.sink.b = buf
	g.gz.Reset(&g.sink)
	_, _ = g.gz.Write(p) // appendWriter never fails
	_ = g.gz.Close()
	out := g.sink.b
	g.sink.b = nil
	return out
}

// cloudWatchJSON appends the CloudWatch Logs subscription payload of the
// current message (DATA_MESSAGE, one event per record) to b.
func (g *Generator) cloudWatchJSON(b []byte, e *eni) []byte {
	b = append(b, `{"messageType":"DATA_MESSAGE","owner":"`...)
	b = append(b, e.acctID...)
	b = append(b, `","logGroup":"vpc-flow-logs-`...)
	b = append(b, e.vpc.region.name...)
	b = append(b, `","logStream":"`...)
	b = append(b, e.id...)
	b = append(b, `-all","subscriptionFilters":["flowlake"],"logEvents":[`...)
	for i, l := range g.lines {
		if i > 0 {
			b = append(b, ',')
		}
		ms := l.ts * 1000
		b = append(b, `{"id":"`...)
		b = g.eventID(b, ms)
		b = append(b, `","timestamp":`...)
		b = strconv.AppendInt(b, ms, 10)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, g.text[l.from:l.to])
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// eventID appends a 56-digit event ID, unique within the generator: the
// timestamp, a sequence number and random digits, as CloudWatch's IDs are
// long decimal strings.
func (g *Generator) eventID(b []byte, ms int64) []byte {
	g.evSeq++
	b = appendPadded(b, uint64(ms), 20)
	b = appendPadded(b, g.evSeq, 20)
	return appendPadded(b, g.ids.next()%1e16, 16)
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendUint(tmp[:0], v, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
