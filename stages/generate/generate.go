package generate

import (
	"errors"
	"fmt"
	gzip "github.com/klauspost/compress/gzip"
	"maps"
	"math/bits"
	"time"

	"flowlake/schema"
)

// Envelopes: how records are framed into a Kafka message value.
const (
	// EnvelopeText is the records as text, one per line, separated by "\n"
	// with no final newline.
	EnvelopeText = "text"
	// EnvelopeGzip is EnvelopeText gzip-compressed.
	EnvelopeGzip = "gzip"
	// EnvelopeCloudWatch is a gzip-compressed CloudWatch Logs subscription
	// payload (DATA_MESSAGE): one log event per record, owner = the ENI's
	// account, log stream `<eni>-all`.
	EnvelopeCloudWatch = "cloudwatch"
	// EnvelopeHeader is EnvelopeText with the format's header line first,
	// as in AWS's S3 text files.
	EnvelopeHeader = "header"
)

// Limits on the topology, so that every VPC fits its subnets.
const (
	MaxAccounts       = 10000
	MaxENIsPerAccount = 5000
)

// Config configures a Generator. Zero values take the documented defaults.
type Config struct {
	// Records is the total number of records (lines) to generate.
	Records int
	// LinesPerMsg is the number of records per Kafka message; default 1.
	// All records of a message belong to one ENI.
	LinesPerMsg int
	// Accounts is the number of distinct 12-digit accounts; default 5.
	Accounts int
	// KeyBy chooses the message key, and so the partition: "eni" (the
	// default, `<account>/<interface-id>`: an account's records spread
	// over every partition) or "account" (`<account>`: each account's
	// records stay on one partition).
	KeyBy string
	// ENIsPerAccount is the number of ENIs per account; default 20.
	ENIsPerAccount int
	// Regions the VPCs live in; default us-east-1 and eu-west-1.
	Regions []string
	// Hours is how many consecutive UTC hours the records' start times
	// cover; default 3.
	Hours int
	// Start is the first hour (truncated to the hour, UTC). Default: the
	// current hour minus Hours. Set it for reproducible output.
	Start time.Time
	// Format is the flow log format of the records; default
	// schema.DefaultFormat.
	Format *schema.Format
	// Seed makes the output deterministic: the same Config gives the same
	// messages, byte for byte.
	Seed int64
	// NoDataRatio and SkipDataRatio are the shares of NODATA and SKIPDATA
	// records; defaults 0.02 and 0.005. A negative value means none.
	NoDataRatio, SkipDataRatio float64
	// IPv6Ratio is the share of flows over IPv6; default 0.05, negative
	// for none.
	IPv6Ratio float64
	// Envelope is one of EnvelopeText (default), EnvelopeGzip,
	// EnvelopeCloudWatch or EnvelopeHeader.
	Envelope string
	// BadRatio is the share of deliberately malformed records (truncated
	// lines, non-numeric or out-of-range ports, bad addresses, ...);
	// default 0. Stats counts them apart.
	BadRatio float64
}

// withDefaults fills defaults and checks the config.
func (c Config) withDefaults(now time.Time) (Config, error) {
	if c.Records < 0 {
		return c, fmt.Errorf("records %d: must not be negative", c.Records)
	}
	if c.LinesPerMsg == 0 {
		c.LinesPerMsg = 1
	}
	if c.Accounts == 0 {
		c.Accounts = 5
	}
	if c.KeyBy == "" {
		c.KeyBy = KeyByENI
	}
	if c.KeyBy != KeyByENI && c.KeyBy != KeyByAccount {
		return c, fmt.Errorf("key by %q: want %s or %s", c.KeyBy, KeyByENI, KeyByAccount)
	}
	if c.ENIsPerAccount == 0 {
		c.ENIsPerAccount = 20
	}
	if len(c.Regions) == 0 {
		c.Regions = []string{"us-east-1", "eu-west-1"}
	}
	if c.Hours == 0 {
		c.Hours = 3
	}
	if c.Format == nil {
		c.Format = schema.DefaultFormat
	}
	if c.Envelope == "" {
		c.Envelope = EnvelopeText
	}
	c.NoDataRatio = ratio(c.NoDataRatio, 0.02)
	c.SkipDataRatio = ratio(c.SkipDataRatio, 0.005)
	c.IPv6Ratio = ratio(c.IPv6Ratio, 0.05)
	c.BadRatio = ratio(c.BadRatio, 0)
	switch {
	case c.LinesPerMsg < 1:
		return c, fmt.Errorf("lines per message %d: must be positive", c.LinesPerMsg)
	case c.Accounts < 1 || c.Accounts > MaxAccounts:
		return c, fmt.Errorf("accounts %d: must be between 1 and %d", c.Accounts, MaxAccounts)
	case c.ENIsPerAccount < 1 || c.ENIsPerAccount > MaxENIsPerAccount:
		return c, fmt.Errorf("ENIs per account %d: must be between 1 and %d", c.ENIsPerAccount, MaxENIsPerAccount)
	case c.Hours < 1:
		return c, fmt.Errorf("hours %d: must be positive", c.Hours)
	case c.NoDataRatio > 1 || c.SkipDataRatio > 1 || c.IPv6Ratio > 1 || c.BadRatio > 1:
		return c, errors.New("ratios must be at most 1")
	case c.NoDataRatio+c.SkipDataRatio+c.BadRatio > 1+1e-9:
		return c, errors.New("NODATA, SKIPDATA and bad ratios add up to more than 1")
	}
	seen := map[string]bool{}
	for _, r := range c.Regions {
		if !schema.ValidRegion([]byte(r)) {
			return c, fmt.Errorf("region %q: not a region name", r)
		}
		if seen[r] {
			return c, fmt.Errorf("region %q listed twice", r)
		}
		seen[r] = true
	}
	c.Regions = append([]string(nil), c.Regions...)
	switch c.Envelope {
	case EnvelopeText, EnvelopeGzip, EnvelopeCloudWatch, EnvelopeHeader:
	default:
		return c, fmt.Errorf("envelope %q: want text, gzip, cloudwatch or header", c.Envelope)
	}
	if c.Start.IsZero() {
		c.Start = now.UTC().Truncate(time.Hour).Add(-time.Duration(c.Hours) * time.Hour)
	}
	c.Start = c.Start.UTC().Truncate(time.Hour)
	return c, nil
}

func ratio(v, def float64) float64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

// Stats counts what a Generator produced.
type Stats struct {
	// Records is the number of lines generated, malformed ones included.
	Records int64
	// Bad is the number of deliberately malformed lines among Records.
	Bad int64
	// NoData and SkipData count the NODATA and SKIPDATA records (they are
	// well-formed and included in Good).
	NoData, SkipData int64
	// Messages is the number of messages (Kafka values, or groups of lines
	// for WriteText).
	Messages int64
	// Bytes is the total size of the messages as returned (after the
	// envelope), or of the text written by WriteText.
	Bytes int64
	// BadByReason counts the malformed lines by the reason schema.Parser
	// rejects them with.
	BadByReason map[schema.Reason]int64
	// PerAccount counts the well-formed records by account-id.
	PerAccount map[string]int64
	// PerPartition counts the well-formed records by account, region of the
	// ENI and UTC hour of start: the files the pipeline should write.
	PerPartition map[schema.PartitionKey]int64
}

// Good is the number of well-formed records.
func (s Stats) Good() int64 { return s.Records - s.Bad }

// Generator produces flow log records. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	topo    *topology
	hot     []*eni // topo.enis, shuffled; pickENI favours the first
	fields  []schema.FieldID
	version int
	start   int64 // Unix seconds of the first hour
	r       rng   // records
	ids     rng   // CloudWatch event IDs, apart so envelopes agree on records

	badT, noDataT, skipT, v6T uint64
	badKinds                  []badKind
	header                    []byte

	produced int64
	msgs     int64
	bytes    int64
	bad      int64
	noData   int64
	skip     int64
	badBy    map[schema.Reason]int64
	acctGood []int64

	// Per-partition counts: the current hour in arHour, folded into parts
	// when the hour moves on (records come in hour order).
	curHour int64
	arHour  []int64
	touched []int
	parts   map[schema.PartitionKey]int64

	// Per message scratch.
	text    []byte
	lines   []lineSpan
	line2   []byte // CloudWatch JSON
	scratch []byte // line tails while mutating
	peerA   [64]byte
	gz      *gzip.Writer
	sink    appendWriter
	evSeq   uint64
}

// lineSpan locates one record in Generator.text.
type lineSpan struct {
	from, to int
	ts       int64         // start, Unix seconds
	bad      schema.Reason // why the parser rejects the line; "" when well-formed
}

// New checks cfg, fills its defaults and builds the topology.
func New(cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults(time.Now())
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	topo, err := buildTopology(&cfg)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	g := &Generator{
		cfg:      cfg,
		topo:     topo,
		fields:   cfg.Format.Fields(),
		version:  cfg.Format.Version(),
		start:    cfg.Start.Unix(),
		r:        newRNG(cfg.Seed, 2),
		ids:      newRNG(cfg.Seed, 3),
		header:   []byte(cfg.Format.Header()),
		badBy:    map[schema.Reason]int64{},
		acctGood: make([]int64, len(topo.accounts)),
		arHour:   make([]int64, len(topo.ars)),
		parts:    map[schema.PartitionKey]int64{},
	}
	// One draw per record picks bad, NODATA, SKIPDATA or OK from the
	// cumulative shares.
	g.badT = threshold(cfg.BadRatio)
	g.noDataT = threshold(cfg.BadRatio + cfg.NoDataRatio)
	g.skipT = threshold(cfg.BadRatio + cfg.NoDataRatio + cfg.SkipDataRatio)
	g.v6T = threshold(cfg.IPv6Ratio)
	// The hot ENIs come first in g.hot; shuffle so they spread over
	// accounts and regions.
	g.hot = append([]*eni(nil), topo.enis...)
	hr := newRNG(cfg.Seed, 4)
	for i := len(g.hot) - 1; i > 0; i-- {
		j := hr.intn(i + 1)
		g.hot[i], g.hot[j] = g.hot[j], g.hot[i]
	}
	g.badKinds = badKindsFor(cfg.Format, cfg.Envelope)
	if cfg.Envelope == EnvelopeGzip || cfg.Envelope == EnvelopeCloudWatch {
		// Level 1: several times faster than CloudWatch's level 6, and the
		// level does not change what a reader decompresses.
		g.gz, _ = gzip.NewWriterLevel(&g.sink, gzip.BestSpeed)
	}
	return g, nil
}

// Config returns the configuration in use, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Format returns the records' format.
func (g *Generator) Format() *schema.Format { return g.cfg.Format }

// Remaining is the number of records still to generate.
func (g *Generator) Remaining() int { return g.cfg.Records - int(g.produced) }

// The message keys Config.KeyBy names.
const (
	KeyByENI     = "eni"
	KeyByAccount = "account"
)

// Next appends the next Kafka message value to buf, the way strconv's Append
// functions do, and returns the extended slice (pass buf[:0] to reuse a
// buffer). key is the message key, `<account>/<interface-id>` or
// `<account>` (Config.KeyBy): partitioning by key keeps an ENI, or an
// account, on one partition; it is shared and must not be modified. lines is the number of records in the message. ok is false, and
// buf returned unchanged, once every record has been generated.
func (g *Generator) Next(buf []byte) (msg []byte, key []byte, lines int, ok bool) {
	e, n := g.fill()
	if n == 0 {
		return buf, nil, 0, false
	}
	before := len(buf)
	switch g.cfg.Envelope {
	case EnvelopeText:
		buf = append(buf, g.text...)
	case EnvelopeHeader:
		buf = append(buf, g.header...)
		buf = append(buf, '\n')
		buf = append(buf, g.text...)
	case EnvelopeGzip:
		buf = g.gzip(buf, g.text)
	case EnvelopeCloudWatch:
		g.line2 = g.cloudWatchJSON(g.line2[:0], e)
		buf = g.gzip(buf, g.line2)
	}
	g.bytes += int64(len(buf) - before)
	if g.cfg.KeyBy == KeyByAccount {
		return buf, e.acctID, n, true
	}
	return buf, e.key, n, true
}

// Stats returns the counts so far. The maps are fresh copies.
func (g *Generator) Stats() Stats {
	s := Stats{
		Records:      g.produced,
		Bad:          g.bad,
		NoData:       g.noData,
		SkipData:     g.skip,
		Messages:     g.msgs,
		Bytes:        g.bytes,
		BadByReason:  maps.Clone(g.badBy),
		PerAccount:   make(map[string]int64, len(g.acctGood)),
		PerPartition: maps.Clone(g.parts),
	}
	for i, n := range g.acctGood {
		if n > 0 {
			s.PerAccount[g.topo.accounts[i].id] = n
		}
	}
	for _, ar := range g.touched {
		k := g.partKey(ar, g.curHour)
		s.PerPartition[k] += g.arHour[ar]
	}
	return s
}

func (g *Generator) partKey(ar int, hour int64) schema.PartitionKey {
	return schema.PartitionKey{Account: g.topo.ars[ar].account, Region: g.topo.ars[ar].region, Hour: g.start + hour*3600}
}

// foldHour moves the current hour's per-partition counts into parts.
func (g *Generator) foldHour() {
	for _, ar := range g.touched {
		g.parts[g.partKey(ar, g.curHour)] += g.arHour[ar]
		g.arHour[ar] = 0
	}
	g.touched = g.touched[:0]
}

// countGood records a well-formed record of e in the current hour.
func (g *Generator) countGood(e *eni) {
	g.acctGood[e.acct.idx]++
	ar := e.vpc.ar
	if g.arHour[ar] == 0 {
		g.touched = append(g.touched, ar)
	}
	g.arHour[ar]++
}

// pickENI chooses an ENI with a skew: low indexes are hotter, so a few ENIs
// carry much of the traffic, as in real estates.
func (g *Generator) pickENI() *eni {
	x := g.r.next() >> 32
	n := uint64(len(g.hot))
	return g.hot[(x*x>>32)*n>>32]
}

// fill generates the next message's records into g.text, one per line, and
// returns the ENI and the number of records.
func (g *Generator) fill() (*eni, int) {
	left := int64(g.cfg.Records) - g.produced
	if left <= 0 {
		return nil, 0
	}
	n := int64(g.cfg.LinesPerMsg)
	if n > left {
		n = left
	}
	e := g.pickENI()
	g.text = g.text[:0]
	g.lines = g.lines[:0]
	hours, total := int64(g.cfg.Hours), int64(g.cfg.Records)
	for j := int64(0); j < n; j++ {
		hi, lo := bits.Mul64(uint64(g.produced), uint64(hours))
		q, _ := bits.Div64(hi, lo, uint64(total)) // produced < total, so no overflow
		hour := int64(q)
		if hour != g.curHour {
			g.foldHour()
			g.curHour = hour
		}
		if j > 0 {
			g.text = append(g.text, '\n')
		}
		from := len(g.text)
		var f flow
		var reason schema.Reason
		u := g.r.next()
		switch {
		case u < g.badT:
			g.flow(&f, e, g.start+hour*3600)
			g.text = g.render(g.text, &f)
			g.text, reason = g.mutate(g.text, from)
			g.bad++
			g.badBy[reason]++
		case u < g.skipT:
			f.e = e
			if u < g.noDataT {
				f.status = stNoData
				g.noData++
			} else {
				f.status = stSkipData
				g.skip++
			}
			f.start = g.start + hour*3600 + int64(g.r.intn(3600))
			if g.r.pct(80) {
				f.end = f.start + int64(g.r.between(54, 60))
			} else {
				f.end = f.start + int64(g.r.between(540, 600))
			}
			g.text = g.render(g.text, &f)
			g.countGood(e)
		default:
			g.flow(&f, e, g.start+hour*3600)
			g.text = g.render(g.text, &f)
			g.countGood(e)
		}
		g.lines = append(g.lines, lineSpan{from: from, to: len(g.text), ts: f.start, bad: reason})
		g.produced++
	}
	g.msgs++
	return e, int(n)
}
