package parse

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
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
	evTime int64
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
	// scratch holds unescaped shipper lines until their message is placed.
	scratch []byte
	groups  map[GroupKey]int // index into c.Groups

	// last-key cache: consecutive records usually share their group.
	lastKey   GroupKey
	lastIndex int
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

func (w *worker) message(c *Chunk, m *Message) {
	if m.Fault != "" {
		w.dead(c, m, 0, schema.ReasonBadEnvelope, m.Fault, m.Value)
		return
	}
	d, err := w.dec.decode(m.Value)
	if d.envelope != EnvelopeText {
		// Pending records alias decoded bytes the next message reuses.
		defer w.flush(c)
	}
	if err != nil {
		w.dead(c, m, 0, schema.ReasonBadEnvelope, err.Error(), m.Value)
		return
	}
	format := w.p.topicFormat(c.Topic)
	if d.envelope == EnvelopeCloudWatch {
		if d.cw.MessageType == "CONTROL_MESSAGE" {
			c.Stats.Control++
			return
		}
		owner := unsafe.Slice(unsafe.StringData(d.cw.Owner), len(d.cw.Owner))
		if len(owner) > 0 && !schema.ValidAccount(owner) {
			w.dead(c, m, 0, schema.ReasonBadAccount, "CloudWatch Logs owner "+quote(owner)+" is not a 12-digit account id", m.Value)
			return
		}
		for i := range d.cw.LogEvents {
			ev := &d.cw.LogEvents[i]
			// The event's message is read, never written, and copied
			// wherever it is kept: no need to copy it here.
			line := unsafe.Slice(unsafe.StringData(ev.Message), len(ev.Message))
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
			w.line(c, m, int32(i+1), line, format, owner, ev.Timestamp/1000)
		}
		return
	}
	shipper := d.envelope == EnvelopeShipper
	if shipper {
		w.scratch = w.scratch[:0] // pending records of earlier messages are placed
	}
	text := d.text
	lineNo := int32(0)
	sawRecord := false
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
			continue
		}
		if shipper {
			ev := line
			if line = w.shipperLine(c, m, lineNo, ev); line == nil {
				continue
			}
			if n := len(line); n > 0 && line[n-1] == '\n' {
				line = line[:n-1]
			}
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
		}
		if !sawRecord && schema.LooksLikeHeader(line) {
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
}

// shipperLine returns the flow log line inside a shipper's JSON event, or
// nil after dead-lettering an event that has none.
func (w *worker) shipperLine(c *Chunk, m *Message, lineNo int32, ev []byte) []byte {
	var err error = errNoField
	for _, field := range w.p.cfg.JSONFields {
		var val []byte
		val, w.scratch, err = shipperField(ev, field, w.scratch)
		if err == nil {
			return val
		}
		if err != errNoField {
			break
		}
	}
	detail := "log shipper event: " + err.Error()
	if err == errNoField {
		detail = "log shipper event has none of the fields " + strings.Join(w.p.cfg.JSONFields, ", ")
	}
	w.dead(c, m, lineNo, schema.ReasonBadEnvelope, detail, ev)
	return nil
}

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
	if len(w.headers) >= 256 {
		clear(w.headers)
	}
	w.headers[string(line)] = f
	return f, nil
}

// line parses one record and queues it for enrichment and placement.
func (w *worker) line(c *Chunk, m *Message, lineNo int32, line []byte, format *schema.Format, owner []byte, evTime int64) {
	w.pend = w.pend[:len(w.pend)+1]
	pd := &w.pend[len(w.pend)-1]
	if err := w.parser(format).Parse(line, &pd.rec); err != nil {
		w.pend = w.pend[:len(w.pend)-1]
		pe := err.(*schema.ParseError)
		w.dead(c, m, lineNo, pe.Reason, pe.Error(), line)
		return
	}
	pd.m, pd.lineNo, pd.line, pd.format, pd.owner, pd.evTime = m, lineNo, line, format, owner, evTime
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
		w.place(c, pd.m, pd.lineNo, pd.line, &pd.rec, pd.owner, pd.evTime, pd.format)
	}
	w.pend = w.pend[:0]
}

// place puts one parsed record in its group's block.
func (w *worker) place(c *Chunk, m *Message, lineNo int32, line []byte, r *schema.Record, owner []byte, evTime int64, format *schema.Format) {
	var t int64
	switch {
	case r.IsSet(schema.Start):
		t = r.Int[schema.Start]
	case r.IsSet(schema.End):
		t = r.Int[schema.End]
	case evTime > 0:
		t = evTime
	case !m.Time.IsZero():
		t = m.Time.Unix()
	default:
		w.dead(c, m, lineNo, schema.ReasonNoTime, "record has no start or end and the message no timestamp", line)
		return
	}
	var account string
	switch {
	case r.IsSet(schema.AccountID):
		account = w.str(r.Str[schema.AccountID])
	case len(owner) > 0:
		account = w.str(owner)
	case c.Account != "":
		account = c.Account
	default:
		account = w.p.cfg.Account
	}
	region := w.p.cfg.Region
	if c.Region != "" {
		region = c.Region
	}
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

func (w *worker) dead(c *Chunk, m *Message, lineNo int32, reason schema.Reason, detail string, raw []byte) {
	if c.Skip != nil && c.Skip.HasDead && !c.Skip.Dead.Less(schema.Pos{Offset: m.Offset, Line: lineNo}) {
		c.Stats.Records++
		c.Stats.Skipped++
		return
	}
	c.Dead = append(c.Dead, DeadLetter{
		Topic: c.Topic, Partition: c.Partition, Offset: m.Offset, Line: lineNo,
		Reason: reason, Detail: detail, Raw: bytes.Clone(raw), Time: m.Time,
	})
	c.Stats.Records++
	c.Stats.Dead++
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
