package parse

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"flowlake/schema"
)

// enrichBatch is how many parsed records wait to be enriched together:
// batch lookups overlap the inventory's cache misses.
const enrichBatch = 64

// pending is a parsed record waiting for enrichment and placement.
type pending struct {
	rec    schema.Record
	m      *Message
	lineNo int32
	line   []byte
	format *schema.Format
	owner  []byte
	t      int64 // the record's time (Unix seconds)
}

// BatchEnricher is an Enricher that can also enrich many records at once,
// which lets lookups overlap their memory latency.
type BatchEnricher interface {
	Enricher
	EnrichBatch(rs []*schema.Record)
}

// worker holds one goroutine's scratch state.
type worker struct {
	p       *Pool
	dec     decoder
	pend    []pending
	ptrs    []*schema.Record
	parsers map[*schema.Format]*schema.Parser
	intern  map[string]string
	headers map[string]*schema.Format // header line -> format, this worker's cache
	// headerBytes is the text the header cache holds.
	headerBytes int
	// decodeBytes is the decode buffer memory last reported to the pool.
	decodeBytes int64
	groups      map[GroupKey]int // index into c.Groups

	// last-key cache: consecutive records usually share their group.
	lastKey   GroupKey
	lastIndex int

	// Dead-letter limits (see reject): the message being parsed, its kept
	// letters and their bytes, the records beyond the limits, and the
	// bytes the chunk's kept letters hold.
	cur            *Message
	kept           int
	keptBytes      int
	suppressed     int64
	suppressedLine int32
	suppressedBy   map[schema.Reason]int64
	chunkDeadBytes int
	// minTime and maxTime are the accepted record times for this chunk.
	minTime, maxTime int64
}

func (p *Pool) newWorker() *worker {
	n := 1
	if p.cfg.Enrichment.Enabled && p.enricher != nil {
		n = enrichBatch
	}
	return &worker{
		p:       p,
		pend:    make([]pending, 0, n),
		ptrs:    make([]*schema.Record, 0, n),
		dec:     decoder{maxBytes: p.cfg.MaxMessageBytes},
		parsers: make(map[*schema.Format]*schema.Parser),
		intern:  make(map[string]string),
		headers: make(map[string]*schema.Format),
		groups:  make(map[GroupKey]int),

		suppressedBy: make(map[schema.Reason]int64),
	}
}

func (w *worker) parser(f *schema.Format) *schema.Parser {
	ps, ok := w.parsers[f]
	if !ok {
		ps = schema.NewParser(f, w.p.cfg.MaxLineBytes)
		w.parsers[f] = ps
	}
	return ps
}

func (w *worker) str(b []byte) string {
	if s, ok := w.intern[string(b)]; ok {
		return s
	}
	if len(w.intern) > 4096 {
		clear(w.intern)
	}
	s := string(b)
	w.intern[s] = s
	return s
}

// process parses every message of c.
func (w *worker) process(c *Chunk) {
	clear(w.groups)
	w.lastIndex = -1
	w.chunkDeadBytes = 0
	now := w.p.cfg.Now()
	w.minTime, w.maxTime = now.Add(-w.p.cfg.MaxBehind).Unix(), now.Add(w.p.cfg.MaxAhead).Unix()
	for i := range c.Msgs {
		m := &c.Msgs[i]
		c.Stats.Messages++
		c.Stats.Bytes += int64(len(m.Value))
		w.message(c, m)
	}
	w.flush(c)
	// Placement after batched enrichment can add dead letters out of
	// order; the batcher and the dead-letter watermark need them sorted.
	slices.SortStableFunc(c.Dead, func(a, b DeadLetter) int {
		return cmp.Or(cmp.Compare(a.Offset, b.Offset), cmp.Compare(a.Line, b.Line))
	})
}

// message parses one message, then files the summary of the dead letters
// it yielded beyond the per-message limits.
func (w *worker) message(c *Chunk, m *Message) {
	w.cur, w.kept, w.keptBytes, w.suppressed, w.suppressedLine = m, 0, 0, 0, 0
	if w.unpack(c, m) != EnvelopeText {
		// Pending records alias decoded bytes the next message reuses.
		w.flush(c)
	}
	// Text records alias the message itself, never the decode buffers:
	// a large buffer (even of a rejected gzip) can go now.
	w.dec.trim()
	w.noteDecodeBuffers()
	w.summarize(c, m)
	w.cur = nil
}

// unpack decodes m and hands its lines to the parser. It returns the
// envelope the message came in.
func (w *worker) unpack(c *Chunk, m *Message) Envelope {
	d, err := w.dec.decode(m.Value)
	w.noteDecodeBuffers()
	if err != nil {
		w.dead(c, m, 0, schema.ReasonBadEnvelope, err.Error(), m.Value)
		return EnvelopeText
	}
	format := w.p.topicFormat(c.Topic)
	if d.envelope == EnvelopeCloudWatch {
		if d.cw.MessageType == "CONTROL_MESSAGE" {
			c.Stats.Control++
			return d.envelope
		}
		owner := unsafe.Slice(unsafe.StringData(d.cw.Owner), len(d.cw.Owner))
		if len(owner) > 0 && !schema.ValidAccount(owner) {
			w.dead(c, m, 0, schema.ReasonBadAccount, "CloudWatch Logs owner "+quote(owner)+" is not a 12-digit account id", m.Value)
			return d.envelope
		}
		for i := range d.cw.LogEvents {
			ev := &d.cw.LogEvents[i]
			// The event's message is read, never written, and copied
			// wherever it is kept: no need to copy it here.
			line := unsafe.Slice(unsafe.StringData(ev.Message), len(ev.Message))
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
			if isBlank(line) {
				// An empty event holds no record: counted, never a
				// dead letter (a payload of a million "{}" events
				// must not become a million dead letters).
				c.Stats.Empty++
				continue
			}
			w.line(c, m, int32(i+1), line, format, owner, ev.Timestamp/1000)
		}
		return d.envelope
	}
	text := d.text
	lineNo := int32(0)
	sawRecord := false
	maxLine := w.p.maxLine()
	for len(text) > 0 {
		var line []byte
		if nl := bytes.IndexByte(text, '\n'); nl >= 0 {
			line, text = text[:nl], text[nl+1:]
		} else {
			line, text = text, nil
		}
		lineNo++
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if isBlank(line) {
			c.Stats.Empty++
			continue
		}
		if !sawRecord && schema.LooksLikeHeader(line) {
			if len(line) > maxLine {
				// Header lines obey the line limit too: a header padded
				// to megabytes must not reach a cache.
				w.dead(c, m, lineNo, schema.ReasonBadHeader, fmt.Sprintf("header line of %d bytes exceeds the line limit %d", len(line), maxLine), line)
				continue
			}
			f, err := w.headerFormat(line)
			if err != nil {
				w.dead(c, m, lineNo, schema.ReasonBadHeader, err.Error(), line)
				continue
			}
			format = f
			continue
		}
		if string(line) == format.Header() {
			continue // a repeated header
		}
		sawRecord = true
		w.line(c, m, lineNo, line, format, nil, 0)
	}
	return d.envelope
}

// noteDecodeBuffers reports the worker's decode buffers to the pool's
// total (Pool.DecodeBufferBytes).
func (w *worker) noteDecodeBuffers() {
	n := w.dec.bufferBytes()
	if n != w.decodeBytes {
		w.p.decodeBytes.Add(n - w.decodeBytes)
		w.decodeBytes = n
	}
}

// maxWorkerHeaderBytes bounds the header text a worker's cache keeps.
const maxWorkerHeaderBytes = 256 << 10

// headerFormat returns the format a header line names. Lookups in the
// worker's own map do not allocate, unlike the pool's shared cache.
func (w *worker) headerFormat(line []byte) (*schema.Format, error) {
	if f, ok := w.headers[string(line)]; ok {
		return f, nil
	}
	f, err := w.p.headerFormat(line)
	if err != nil {
		return nil, err
	}
	if len(w.headers) >= 256 || w.headerBytes+len(line) > maxWorkerHeaderBytes {
		clear(w.headers)
		w.headerBytes = 0
	}
	w.headers[string(line)] = f
	w.headerBytes += len(line)
	return f, nil
}

// line parses one record and queues it for enrichment and placement.
func (w *worker) line(c *Chunk, m *Message, lineNo int32, line []byte, format *schema.Format, owner []byte, evTime int64) {
	w.pend = w.pend[:len(w.pend)+1]
	pd := &w.pend[len(w.pend)-1]
	if err := w.parser(format).Parse(line, &pd.rec); err != nil {
		w.pend = w.pend[:len(w.pend)-1]
		pe := err.(*schema.ParseError)
		if w.reject(c, m, lineNo, pe.Reason, len(line)) {
			w.keep(c, m, lineNo, pe.Reason, pe.Error(), line)
		}
		return
	}
	t, ok := recordTime(&pd.rec, evTime, m)
	switch {
	case !ok:
		w.pend = w.pend[:len(w.pend)-1]
		w.dead(c, m, lineNo, schema.ReasonNoTime, "record has no start or end and the message no timestamp", line)
		return
	case t < w.minTime || t > w.maxTime:
		w.pend = w.pend[:len(w.pend)-1]
		if w.reject(c, m, lineNo, schema.ReasonTimeRange, len(line)) {
			w.keep(c, m, lineNo, schema.ReasonTimeRange, fmt.Sprintf("record time %d is outside the accepted window [%s, %s] around the processing time",
				t, time.Unix(w.minTime, 0).UTC().Format(time.RFC3339), time.Unix(w.maxTime, 0).UTC().Format(time.RFC3339)), line)
		}
		return
	}
	pd.m, pd.lineNo, pd.line, pd.format, pd.owner, pd.t = m, lineNo, line, format, owner, t
	if len(w.pend) == cap(w.pend) {
		w.flush(c)
	}
}

// flush enriches the queued records, in one batch when the enricher can,
// and places them.
func (w *worker) flush(c *Chunk) {
	if len(w.pend) == 0 {
		return
	}
	if w.p.cfg.Enrichment.Enabled && w.p.enricher != nil {
		if be, ok := w.p.enricher.(BatchEnricher); ok {
			w.ptrs = w.ptrs[:0]
			for i := range w.pend {
				w.ptrs = append(w.ptrs, &w.pend[i].rec)
			}
			be.EnrichBatch(w.ptrs)
		} else {
			for i := range w.pend {
				w.p.enricher.Enrich(&w.pend[i].rec)
			}
		}
	}
	for i := range w.pend {
		pd := &w.pend[i]
		w.place(c, pd.m, pd.lineNo, pd.line, &pd.rec, pd.owner, pd.t, pd.format)
	}
	w.pend = w.pend[:0]
}

// place puts one parsed record in its group's block.
func (w *worker) place(c *Chunk, m *Message, lineNo int32, line []byte, r *schema.Record, owner []byte, t int64, format *schema.Format) {
	var account string
	switch {
	case r.IsSet(schema.AccountID):
		account = w.str(r.Str[schema.AccountID])
	case len(owner) > 0:
		account = w.str(owner)
	default:
		account = w.p.cfg.Account
	}
	region := w.p.cfg.Region
	if r.IsSet(schema.Region) {
		if !schema.ValidRegion(r.Str[schema.Region]) {
			// Only enrichment can get here: parsed regions are checked.
			w.dead(c, m, lineNo, schema.ReasonBadRegion, "region "+quote(r.Str[schema.Region])+" is not a region name", line)
			return
		}
		region = w.str(r.Str[schema.Region])
	}
	key := GroupKey{Account: account, Region: region, Hour: schema.HourOf(t), Layout: w.p.Layout(format)}
	pos := schema.Pos{Offset: m.Offset, Line: lineNo}
	if c.Skip != nil {
		if done, ok := c.Skip.Groups[SkipKeyOf(key)]; ok && !done.Less(pos) {
			c.Stats.Records++
			c.Stats.Skipped++
			return
		}
	}
	idx := w.lastIndex
	if idx < 0 || key != w.lastKey {
		var ok bool
		idx, ok = w.groups[key]
		if !ok {
			idx = len(c.Groups)
			c.Groups = append(c.Groups, Group{Key: key, Block: w.p.getBlock(key.Layout)})
			w.groups[key] = idx
		}
		w.lastKey, w.lastIndex = key, idx
	}
	c.Groups[idx].Block.Append(r, pos, t)
	c.Stats.Records++
	c.Stats.Rows++
	c.Stats.MaxTime = max(c.Stats.MaxTime, t)
}

// recordTime is the time that places a record in an hour: its start, else
// its end, else the CloudWatch event's or the Kafka message's timestamp.
func recordTime(r *schema.Record, evTime int64, m *Message) (int64, bool) {
	switch {
	case r.IsSet(schema.Start):
		return r.Int[schema.Start], true
	case r.IsSet(schema.End):
		return r.Int[schema.End], true
	case evTime > 0:
		return evTime, true
	case !m.Time.IsZero():
		return m.Time.Unix(), true
	}
	return 0, false
}

// dead rejects one record, or a whole message when lineNo is 0.
func (w *worker) dead(c *Chunk, m *Message, lineNo int32, reason schema.Reason, detail string, raw []byte) {
	if w.reject(c, m, lineNo, reason, len(raw)+len(detail)) {
		w.keep(c, m, lineNo, reason, detail, raw)
	}
}

// reject counts a rejected record and reports whether its dead letter is
// kept one by one. It is not when the record was already durable before a
// restart, or when the message or the chunk reached its dead-letter limits:
// then the record is counted in the message's summary (see summarize).
// Callers build the detail only for kept letters.
func (w *worker) reject(c *Chunk, m *Message, lineNo int32, reason schema.Reason, size int) bool {
	if c.Skip != nil && c.Skip.HasDead && !c.Skip.Dead.Less(schema.Pos{Offset: m.Offset, Line: lineNo}) {
		c.Stats.Records++
		c.Stats.Skipped++
		return false
	}
	c.Stats.Records++
	c.Stats.Dead++
	if lineNo == 0 || m != w.cur {
		// A whole message is one letter, bounded by the input; a
		// placement reject of an earlier message has no summary to join.
		return true
	}
	mem := deadLetterOverhead + size
	if w.kept >= w.p.cfg.MaxDeadPerMessage || w.keptBytes+mem > maxDeadBytesPerMessage || w.chunkDeadBytes+mem > maxDeadBytesPerChunk {
		w.suppressed++
		w.suppressedLine = max(w.suppressedLine, lineNo)
		w.suppressedBy[reason]++
		return false
	}
	return true
}

// keep files one dead letter.
func (w *worker) keep(c *Chunk, m *Message, lineNo int32, reason schema.Reason, detail string, raw []byte) {
	c.Dead = append(c.Dead, DeadLetter{
		Topic: c.Topic, Partition: c.Partition, Offset: m.Offset, Line: lineNo,
		Reason: reason, Detail: detail, Raw: bytes.Clone(raw), Time: m.Time,
	})
	mem := c.Dead[len(c.Dead)-1].Mem()
	if m == w.cur {
		w.kept++
		w.keptBytes += mem
	}
	w.chunkDeadBytes += mem
	c.Stats.DeadBytes += int64(mem)
}

// summarize files the summary dead letter of a message whose rejects went
// past the limits: it stands for every record not kept one by one (its
// Records count), sits at the position of the last of them, and holds the
// whole raw message as read from Kafka, so nothing is lost.
func (w *worker) summarize(c *Chunk, m *Message) {
	if w.suppressed == 0 {
		return
	}
	reasons := make([]string, 0, len(w.suppressedBy))
	byReason := make(map[schema.Reason]int64, len(w.suppressedBy))
	for r, n := range w.suppressedBy {
		reasons = append(reasons, string(r)+"="+strconv.FormatInt(n, 10))
		byReason[r] = n
	}
	slices.Sort(reasons)
	clear(w.suppressedBy)
	d := DeadLetter{
		Topic: c.Topic, Partition: c.Partition, Offset: m.Offset, Line: w.suppressedLine,
		Reason: schema.ReasonDeadLetterLimit, Raw: bytes.Clone(m.Value), Time: m.Time, Records: w.suppressed, ByReason: byReason,
		Detail: fmt.Sprintf("message yielded %d rejected records: %d kept one by one, the other %d (%s) are counted by this summary; raw is the whole message as read from Kafka",
			int64(w.kept)+w.suppressed, w.kept, w.suppressed, strings.Join(reasons, " ")),
	}
	c.Dead = append(c.Dead, d)
	w.chunkDeadBytes += d.Mem()
	c.Stats.DeadBytes += int64(d.Mem())
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

func quote(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return "\"" + string(b) + "\""
}
