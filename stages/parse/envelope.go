package parse

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Envelope names how a message carried its records.
type Envelope uint8

// Envelopes.
const (
	EnvelopeText Envelope = iota
	EnvelopeGzip
	EnvelopeCloudWatch
)

func (e Envelope) String() string {
	switch e {
	case EnvelopeGzip:
		return "gzip"
	case EnvelopeCloudWatch:
		return "cloudwatch"
	default:
		return "text"
	}
}

// DefaultMaxMessageBytes caps a message's decompressed size: a gzip bomb is a
// bad envelope, not an out-of-memory crash.
const DefaultMaxMessageBytes = 64 << 20

var errNotCloudWatch = errors.New("not a CloudWatch Logs payload")

// cwPayload is a CloudWatch Logs subscription payload.
type cwPayload struct {
	MessageType string `json:"messageType"`
	Owner       string `json:"owner"`
	LogGroup    string `json:"logGroup"`
	LogStream   string `json:"logStream"`
	LogEvents   []struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	} `json:"logEvents"`
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
	buf      bytes.Buffer
	br       bytes.Reader
}

// decode detects the envelope of msg and unwraps it. The returned text may
// alias msg or the decoder's buffer, valid until the next call.
func (d *decoder) decode(msg []byte) (decoded, error) {
	if len(msg) >= 2 && msg[0] == 0x1f && msg[1] == 0x8b {
		text, err := d.gunzip(msg)
		if err != nil {
			return decoded{}, err
		}
		if cw, err := parseCloudWatch(text); err == nil {
			return decoded{envelope: EnvelopeCloudWatch, cw: cw}, nil
		} else if !errors.Is(err, errNotCloudWatch) {
			return decoded{}, err
		}
		return decoded{envelope: EnvelopeGzip, text: text}, nil
	}
	if cw, err := parseCloudWatch(msg); err == nil {
		return decoded{envelope: EnvelopeCloudWatch, cw: cw}, nil
	} else if !errors.Is(err, errNotCloudWatch) {
		return decoded{}, err
	}
	return decoded{envelope: EnvelopeText, text: msg}, nil
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
	limit := d.maxBytes
	if limit <= 0 {
		limit = DefaultMaxMessageBytes
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

// parseCloudWatch decodes a subscription payload. It returns errNotCloudWatch
// for anything that is not a JSON object, so plain text falls through.
func parseCloudWatch(b []byte) (*cwPayload, error) {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return nil, errNotCloudWatch
	}
	var p cwPayload
	if err := json.Unmarshal(t, &p); err != nil {
		return nil, fmt.Errorf("CloudWatch Logs payload: %w", err)
	}
	switch p.MessageType {
	case "DATA_MESSAGE", "CONTROL_MESSAGE":
	default:
		return nil, fmt.Errorf("JSON message with messageType %q is not a CloudWatch Logs payload", p.MessageType)
	}
	return &p, nil
}
