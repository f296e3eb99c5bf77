package parse

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Envelope names how a message carried its records.
type Envelope uint8

// Envelopes.
const (
	// EnvelopeText is plain text: records separated by "\n".
	EnvelopeText Envelope = iota
	// EnvelopeGzip is text inside gzip (one or more members).
	EnvelopeGzip
	// EnvelopeCloudWatch is a CloudWatch Logs subscription payload, however
	// it was framed: raw JSON, gzip, base64 gzip, or the Lambda event's
	// {"awslogs":{"data":...}} wrapper.
	EnvelopeCloudWatch
	// EnvelopeBase64Gzip is text inside gzip inside base64, the Kinesis
	// Data Streams and Lambda framing.
	EnvelopeBase64Gzip
	// EnvelopeShipper is JSON events of a log shipper (Filebeat, Fluent
	// Bit, Vector), one per line, each with a flow log line in a field.
	EnvelopeShipper
)

func (e Envelope) String() string {
	switch e {
	case EnvelopeGzip:
		return "gzip"
	case EnvelopeCloudWatch:
		return "cloudwatch"
	case EnvelopeBase64Gzip:
		return "base64-gzip"
	case EnvelopeShipper:
		return "shipper"
	default:
		return "text"
	}
}

// DefaultMaxMessageBytes caps a message's decompressed size: a gzip bomb is a
// bad envelope, not an out-of-memory crash.
const DefaultMaxMessageBytes = 64 << 20

// sniffBytes is how much of a text message is checked for binary data.
const sniffBytes = 512

var errEmpty = errors.New("empty message: no record, no header")

// cwPayload is a CloudWatch Logs subscription payload, reduced to what the
// pipeline uses: encoding/json skips the other fields (logGroup, logStream,
// subscriptionFilters, the events' ids) without allocating.
type cwPayload struct {
	MessageType string    `json:"messageType"`
	Owner       string    `json:"owner"`
	LogEvents   []cwEvent `json:"logEvents"`
}

// maxKeptEvents bounds the event slots a decoder keeps between messages.
const maxKeptEvents = 16 << 10

type cwEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// reset empties p for reuse, keeping the events' memory. Every event slot
// is zeroed: encoding/json decodes into the slots it reuses, and an event
// without a timestamp must not inherit one from an earlier message.
func (p *cwPayload) reset() {
	if cap(p.LogEvents) > maxKeptEvents {
		p.LogEvents = nil // let one huge message's events go
	}
	clear(p.LogEvents[:cap(p.LogEvents)])
	*p = cwPayload{LogEvents: p.LogEvents[:0]}
}

// jsonMessage is any JSON object a message may hold: a subscription payload,
// or the Lambda event that wraps one in awslogs.data.
type jsonMessage struct {
	cwPayload
	AWSLogs *struct {
		Data *string `json:"data"`
	} `json:"awslogs"`
}

// decoded is one message unwrapped: either text (lines separated by \n) or
// CloudWatch events.
type decoded struct {
	envelope Envelope
	text     []byte
	cw       *cwPayload
}

// decoder unwraps messages, reusing its buffers between calls.
type decoder struct {
	maxBytes int64
	gz       *gzip.Reader
	buf      bytes.Buffer // gunzipped bytes
	b64      []byte       // base64-decoded bytes
	br       bytes.Reader
	js       jsonMessage // reused by every JSON message
	inner    cwPayload   // the payload inside awslogs.data
}

// decode detects the envelope of msg and unwraps it: gzip magic means
// gunzip (every member); base64 that decodes to gzip means decode then
// gunzip; a JSON object is a CloudWatch Logs payload, possibly wrapped as
// {"awslogs":{"data":"<base64 gzip>"}}, or else a log shipper's events, one
// per line; anything else is text. Plain text is returned as is, without allocating. The returned text
// may alias msg or the decoder's buffers, valid until the next call.
//
// An error means the message is no usable envelope: a corrupt or oversized
// gzip stream, JSON that is no CloudWatch Logs payload, binary data, or
// nothing at all. The caller dead-letters it whole.
func (d *decoder) decode(msg []byte) (decoded, error) {
	body, env := msg, EnvelopeText
	switch {
	case isGzip(msg):
		text, err := d.gunzip(msg)
		if err != nil {
			return decoded{}, err
		}
		body, env = text, EnvelopeGzip
	case looksBase64Gzip(msg):
		raw, err := d.unbase64(msg)
		if err == nil && isGzip(raw) {
			text, err := d.gunzip(raw)
			if err != nil {
				return decoded{}, fmt.Errorf("base64 gzip: %w", err)
			}
			body, env = text, EnvelopeBase64Gzip
		}
		// Not base64 after all: fall through as text, whose lines
		// will be rejected one by one.
	}
	if isJSONObject(body) && !isCloudWatchJSON(body) {
		// JSON events of a log shipper, read line by line by the worker.
		return decoded{envelope: EnvelopeShipper, text: body}, nil
	}
	if isJSONObject(body) {
		cw, err := d.parseJSON(body)
		if err != nil {
			return decoded{}, err
		}
		return decoded{envelope: EnvelopeCloudWatch, cw: cw}, nil
	}
	if allSpace(body) {
		return decoded{}, errEmpty
	}
	if err := sniffBinary(body); err != nil {
		return decoded{}, err
	}
	return decoded{envelope: env, text: body}, nil
}

// allSpace reports whether b holds nothing but white space and line breaks.
func allSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// looksBase64Gzip reports whether b starts like standard base64 of a gzip
// stream ("H4sI" encodes 1f 8b 08, the magic and the deflate method). No
// flow log record starts with an upper-case letter.
func looksBase64Gzip(b []byte) bool {
	return len(b) >= 4 && b[0] == 'H' && b[1] == '4' && b[2] == 's' && b[3] == 'I'
}

func isJSONObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// sniffBinary rejects a body that is binary rather than text: one that
// starts with the magic of a compression flowlake does not read, or holds a
// NUL byte near its start. Such a message is an unknown envelope, not a run
// of bad records. Other control characters are left to the parser, so that
// one damaged line costs one dead letter, not its whole message.
func sniffBinary(b []byte) error {
	switch {
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return errors.New("zstd-compressed message: only gzip is supported")
	case bytes.HasPrefix(b, []byte{0x04, 0x22, 0x4d, 0x18}):
		return errors.New("lz4-compressed message: only gzip is supported")
	}
	if i := bytes.IndexByte(b[:min(len(b), sniffBytes)], 0); i >= 0 {
		return fmt.Errorf("binary data (NUL byte at %d) that is no known envelope", i)
	}
	return nil
}

// unbase64 decodes standard base64, padded or not, ignoring line breaks and
// surrounding white space. The result aliases d.b64.
func (d *decoder) unbase64(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	enc := base64.StdEncoding
	if len(b)%4 != 0 && !bytes.ContainsAny(b, "\r\n") {
		enc = base64.RawStdEncoding
	}
	n := enc.DecodedLen(len(b))
	if int64(n) > d.limit() {
		return nil, fmt.Errorf("base64 payload exceeds %d bytes", d.limit())
	}
	if cap(d.b64) < n {
		d.b64 = make([]byte, n)
	}
	n, err := enc.Decode(d.b64[:n], b)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	return d.b64[:n], nil
}

// maxKeptDecodeBytes is how much decode buffer a worker keeps between
// messages; one large message's buffer is let go once it is parsed, so
// workers hold at most one such buffer each, and only while they use it.
const maxKeptDecodeBytes = 4 << 20

// trim lets go of buffers grown past maxKeptDecodeBytes. Nothing decoded
// may be in use.
func (d *decoder) trim() {
	if d.buf.Cap() > maxKeptDecodeBytes {
		d.buf = bytes.Buffer{}
	}
	if cap(d.b64) > maxKeptDecodeBytes {
		d.b64 = nil
	}
}

// bufferBytes is the memory the decoder's buffers hold.
func (d *decoder) bufferBytes() int64 { return int64(d.buf.Cap() + cap(d.b64)) }

func (d *decoder) limit() int64 {
	if d.maxBytes <= 0 {
		return DefaultMaxMessageBytes
	}
	return d.maxBytes
}

func (d *decoder) gunzip(msg []byte) ([]byte, error) {
	d.br.Reset(msg)
	if d.gz == nil {
		gz, err := gzip.NewReader(&d.br)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w", err)
		}
		d.gz = gz
	} else if err := d.gz.Reset(&d.br); err != nil {
		return nil, fmt.Errorf("gzip header: %w", err)
	}
	d.gz.Multistream(true)
	d.buf.Reset()
	limit := d.limit()
	if n := len(msg); n >= 18 {
		// The trailer's ISIZE (the last member's size mod 2^32) sizes the
		// buffer at once instead of doubling through garbage; a lying
		// trailer costs at most the limit.
		isize := int64(msg[n-4]) | int64(msg[n-3])<<8 | int64(msg[n-2])<<16 | int64(msg[n-1])<<24
		d.buf.Grow(int(min(isize, limit) + bytes.MinRead))
	}
	n, err := d.buf.ReadFrom(io.LimitReader(d.gz, limit+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("gunzipped message exceeds %d bytes", limit)
	}
	return d.buf.Bytes(), nil
}

// parseJSON decodes a JSON message: a CloudWatch Logs subscription payload,
// or a Lambda event whose awslogs.data holds one as base64 gzip.
func (d *decoder) parseJSON(b []byte) (*cwPayload, error) {
	m := &d.js
	m.cwPayload.reset()
	m.AWSLogs = nil
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("JSON message: %w", err)
	}
	if m.AWSLogs != nil {
		if m.AWSLogs.Data == nil {
			return nil, errors.New(`awslogs wrapper without "data"`)
		}
		raw, err := d.unbase64([]byte(*m.AWSLogs.Data))
		if err != nil {
			return nil, fmt.Errorf("awslogs.data: %w", err)
		}
		inner := raw
		if isGzip(raw) {
			if inner, err = d.gunzip(raw); err != nil {
				return nil, fmt.Errorf("awslogs.data: %w", err)
			}
		}
		if !isJSONObject(inner) {
			return nil, errors.New("awslogs.data holds no CloudWatch Logs payload")
		}
		d.inner.reset()
		if err := json.Unmarshal(inner, &d.inner); err != nil {
			return nil, fmt.Errorf("awslogs.data: CloudWatch Logs payload: %w", err)
		}
		if err := checkMessageType(d.inner.MessageType); err != nil {
			return nil, fmt.Errorf("awslogs.data: %w", err)
		}
		return &d.inner, nil
	}
	if err := checkMessageType(m.MessageType); err != nil {
		return nil, err
	}
	return &m.cwPayload, nil
}

func checkMessageType(t string) error {
	switch t {
	case "DATA_MESSAGE", "CONTROL_MESSAGE":
		return nil
	}
	if len(t) > 64 {
		t = t[:64]
	}
	return fmt.Errorf("JSON message with messageType %q is not a CloudWatch Logs payload", t)
}
