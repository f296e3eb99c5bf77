package archive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"flowlake/schema"
	"flowlake/stages/backoff"
)

// Messages are cut by these fixed rules, never by configuration: a resumed
// run must cut an object at the same lines, since offsets name the cuts.
const (
	msgMaxLines = 4096
	msgMaxBytes = 256 << 10
	// maxLineBytes caps the bytes kept of one line; longer lines reach the
	// parser cut there and are dead letters (line_too_long).
	maxLineBytes = 1 << 20
	lineBits     = 32
	lineMask     = 1<<lineBits - 1
)

// Offset returns the stream offset of a message of object idx whose line
// base is base.
func Offset(idx int, base int64) int64 { return int64(idx)<<lineBits | base }

// Split returns the object index and line base of an offset.
func Split(off int64) (idx int, base int64) { return int(off >> lineBits), off & lineMask }

// reader reads a folder's objects from a start offset.
type reader struct {
	st    *stream
	start int64
	idx   int // the object being read
	open  bool
	body  io.ReadCloser
	gz    *gzip.Reader
	br    *bufio.Reader
	line  int64  // lines read from the object so far
	head  []byte // the object's header line, prefixed to every message
	hasHd bool
	when  time.Time
	// last is the offset of the last message generated (delivered or
	// skipped as before start); -1 when none.
	last int64
	done bool
	// fault, when set, ends the object with a message that says why.
	fault string
	// body is the open object's body, which remembers a read failure.
	cbody *countingBody
	// skipTo, within object idx, drops regenerated messages at or below
	// it after the object was re-opened; retries counts the re-opens.
	skipTo  int64
	retries int
}

// errReopen says the object's connection failed mid-read: the object is
// read again from its start, skipping the messages already delivered.
var errReopen = errors.New("archive: object body failed")

func (r *reader) Close() {
	r.closeObject()
}

func (r *reader) closeObject() {
	if r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
	r.open = false
}

// Fetch implements source.Reader.
func (r *reader) Fetch(ctx context.Context, buf []schema.Message) ([]schema.Message, error) {
	size := 0
	maxBytes := r.st.maxBytes
	for size < maxBytes {
		if err := ctx.Err(); err != nil {
			return buf, err
		}
		if r.done {
			if len(buf) > 0 {
				return buf, nil
			}
			return buf, io.EOF
		}
		if !r.open {
			err := r.next(ctx)
			if errors.Is(err, errReopen) {
				err = r.reopen(ctx, err)
			}
			if err != nil {
				return buf, err
			}
			continue
		}
		m, ok, err := r.message()
		if errors.Is(err, errReopen) {
			if err := r.reopen(ctx, err); err != nil {
				return buf, err
			}
			continue
		}
		if err != nil {
			return buf, err
		}
		if !ok {
			continue
		}
		if r.skipTo >= 0 && m.Offset <= r.skipTo {
			continue // delivered before the object was re-opened
		}
		r.last = m.Offset
		if m.Offset < r.start {
			continue // durable before this run
		}
		size += len(m.Value)
		buf = append(buf, m)
	}
	return buf, nil
}

// reopen closes an object whose connection failed, to read it again from
// its start after a backoff, skipping what was already delivered.
func (r *reader) reopen(ctx context.Context, cause error) error {
	r.retries++
	r.skipTo = max(r.skipTo, r.last)
	r.closeObject()
	d := backoff.Delay(r.retries, 100*time.Millisecond, 20*time.Second)
	r.st.src.logger.Warn("s3 object read failed; reading it again", "object", r.st.objects[r.idx].Key, "attempt", r.retries, "backoff", d, "err", cause)
	return backoff.Sleep(ctx, d)
}

// next opens the next object to read, skipping those before start.
func (r *reader) next(ctx context.Context) error {
	objs := r.st.objects
	startIdx, _ := Split(r.start)
	if r.idx < startIdx {
		r.idx = startIdx
	}
	if r.idx >= len(objs) {
		r.done = true
		return nil
	}
	o := objs[r.idx]
	var out *s3.GetObjectOutput
	err := r.st.src.retry(ctx, "get "+o.Key, func() error {
		var err error
		out, err = r.st.src.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.st.src.cfg.Bucket, Key: &o.Key})
		return err
	})
	if err != nil {
		return fmt.Errorf("object s3://%s/%s: %w", r.st.src.cfg.Bucket, o.Key, err)
	}
	r.st.src.stats.objectsOpened.Add(1)
	r.cbody = &countingBody{ReadCloser: out.Body, n: &r.st.src.stats.bytes}
	r.body = r.cbody
	r.line, r.head, r.hasHd = 0, r.head[:0], false
	r.when = objectTime(o.Key, r.st.folder)
	var src io.Reader = r.body
	r.br = nil
	if strings.HasSuffix(o.Key, ".gz") {
		if r.gz == nil {
			r.gz, err = gzip.NewReader(r.body)
		} else {
			err = r.gz.Reset(r.body)
		}
		if err != nil && r.cbody.err != nil {
			return fmt.Errorf("%w: %w", errReopen, r.cbody.err)
		}
		if err != nil {
			r.fault = fmt.Sprintf("object s3://%s/%s: gzip header: %v", r.st.src.cfg.Bucket, o.Key, err)
			r.st.src.stats.corrupt.Add(1)
			r.open = true
			return nil
		}
		r.gz.Multistream(true)
		src = r.gz
	}
	r.br = bufio.NewReaderSize(src, 64<<10)
	r.open = true
	return nil
}

// message cuts the next message of the open object: ok is false when the
// object ended without one.
func (r *reader) message() (m schema.Message, ok bool, err error) {
	if r.fault != "" {
		m = schema.Message{Offset: Offset(r.idx, r.line), Time: r.when, Fault: r.fault}
		r.fault = ""
		r.endObject()
		return m, true, nil
	}
	value := make([]byte, 0, 4096)
	if r.hasHd {
		value = append(append(value, r.head...), '\n')
	}
	first := r.line + 1
	n := 0
	for n < msgMaxLines && len(value) < msgMaxBytes {
		start := len(value)
		var more bool
		value, more, err = r.readLine(value)
		if err != nil && r.cbody != nil && r.cbody.err != nil {
			return schema.Message{}, false, fmt.Errorf("%w: %w", errReopen, r.cbody.err)
		}
		if err != nil {
			o := r.st.objects[r.idx]
			r.fault = fmt.Sprintf("object s3://%s/%s unreadable after line %d: %v", r.st.src.cfg.Bucket, o.Key, r.line, err)
			r.st.src.stats.corrupt.Add(1)
			value = value[:start]
			break
		}
		if !more {
			break
		}
		r.line++
		if r.line == 1 && !r.hasHd {
			line := bytes.TrimSuffix(bytes.TrimSuffix(value[start:], []byte{'\n'}), []byte{'\r'})
			if schema.LooksLikeHeader(line) {
				if _, herr := schema.ParseHeader(line); herr == nil {
					r.head = append(r.head[:0], line...)
					r.hasHd = true
					first = 2
					continue // it stays in value: the message starts with it
				}
			}
		}
		n++
	}
	if n == 0 {
		if r.fault == "" {
			r.endObject()
		}
		return schema.Message{}, false, nil
	}
	base := first - 1
	if r.hasHd {
		base = first - 2
	}
	return schema.Message{Offset: Offset(r.idx, base), Value: value, Time: r.when}, true, nil
}

// readLine appends the next line, "\n" included, to dst; more is false at
// the end of the object. Bytes of a line past maxLineBytes are dropped.
func (r *reader) readLine(dst []byte) (out []byte, more bool, err error) {
	if r.br == nil {
		return dst, false, nil
	}
	start := len(dst)
	for {
		chunk, err := r.br.ReadSlice('\n')
		if room := maxLineBytes - (len(dst) - start); room > 0 {
			dst = append(dst, chunk[:min(len(chunk), room)]...)
		}
		switch {
		case err == nil:
			if dst[len(dst)-1] != '\n' {
				dst = append(dst, '\n')
			}
			return dst, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(dst) == start {
				return dst, false, nil
			}
			return append(dst, '\n'), true, nil
		default:
			return dst[:start], false, err
		}
	}
}

// endObject closes the object and moves to the next.
func (r *reader) endObject() {
	r.skipTo, r.retries = -1, 0
	r.closeObject()
	r.st.src.stats.objectsDone.Add(1)
	r.idx++
}

// countingBody counts the bytes read from S3.
type countingBody struct {
	io.ReadCloser
	n interface{ Add(int64) int64 }
	// err is the first failure of the connection (not the end).
	err error
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}
