package enrich

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/schema"
)

// maxMissAccounts caps the account label values of the miss counter.
const maxMissAccounts = 1000

// Enricher joins records to the current inventory. It implements the parse
// stage's Enricher: it never allocates on a hit and never blocks on a
// refresh, since the inventory is swapped atomically.
type Enricher struct {
	current func() *Inventory
	tagKeys []string
	logger  *slog.Logger

	hits, misses    atomic.Int64
	missesTotal     *prometheus.CounterVec
	hitsTotal       prometheus.CounterFunc
	missAccounts    sync.Map // account -> prometheus.Counter
	missAccountN    atomic.Int64
	lastMissLog     atomic.Int64
	missLogsInBurst atomic.Int64
}

// NewEnricher returns an enricher over the inventory current returns (for
// example Manager.Current). tagKeys are the ENI tags that become columns,
// in column order.
func NewEnricher(current func() *Inventory, tagKeys []string, logger *slog.Logger, reg prometheus.Registerer) *Enricher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Enricher{
		current: current, tagKeys: tagKeys, logger: logger,
		missesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowlake_enrich_misses_total",
			Help: "Records whose interface is not in the inventory, by account (the first 1000 accounts; then account=\"other\")."}, []string{"account"}),
	}
	// Counted from hits rather than incremented per record: a shared
	// counter on the hot path of every parse worker would contend.
	e.hitsTotal = prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "flowlake_enrich_hits_total", Help: "Records joined to an inventory interface."},
		func() float64 { return float64(e.hits.Load()) })
	if reg != nil {
		reg.MustRegister(e.missesTotal, e.hitsTotal)
	}
	return e
}

// Stats returns hits and misses so far.
func (e *Enricher) Stats() (hits, misses int64) { return e.hits.Load(), e.misses.Load() }

// str aliases an immutable inventory string as bytes without copying; the
// record's consumers copy values before the inventory can go away.
func str(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func setIfMissing(r *schema.Record, id schema.FieldID, v string) {
	if v != "" && !r.IsSet(id) {
		r.SetStr(id, str(v))
	}
}

// setRefIfMissing is setIfMissing for string i of a tuple.
func setRefIfMissing(r *schema.Record, id schema.FieldID, p *pools, tuple []uint32, i int) {
	if n := tuple[2*i+1]; n != 0 && !r.IsSet(id) {
		r.SetStr(id, p.strs[tuple[2*i]:][:n:n])
	}
}

// Enrich fills the AWS columns the record lacks (vpc_id, subnet_id,
// instance_id, region, az_id) from its interface, adds the eni_* columns,
// and attributes the other address of the flow to a subnet and VPC. Values
// the record carries always win.
func (e *Enricher) Enrich(r *schema.Record) {
	inv := e.current()
	if inv == nil || !r.IsSet(schema.InterfaceID) {
		return
	}
	ifc, _ := inv.Interface(r.Str[schema.InterfaceID])
	e.apply(inv, r, &ifc)
}

// EnrichBatch is Enrich for many records, against one inventory. It looks
// their interfaces up together (see [Inventory.Interfaces]), which over an
// inventory much larger than the processor's caches is about twice as
// fast as a loop of Enrich calls. It never allocates on hits.
func (e *Enricher) EnrichBatch(rs []*schema.Record) {
	inv := e.current()
	if inv == nil {
		return
	}
	var (
		ids  [batchGroup][]byte
		ifcs [batchGroup]Interface
	)
	for base := 0; base < len(rs); base += batchGroup {
		group := rs[base:min(base+batchGroup, len(rs))]
		for k, r := range group {
			ids[k] = nil // no interface id: never found, and skipped below
			if r.IsSet(schema.InterfaceID) {
				ids[k] = r.Str[schema.InterfaceID]
			}
		}
		inv.Interfaces(ids[:len(group)], ifcs[:len(group)])
		for k, r := range group {
			if r.IsSet(schema.InterfaceID) {
				e.apply(inv, r, &ifcs[k])
			}
		}
	}
}

// apply enriches r from ifc, the zero Interface when the record's interface
// is unknown.
func (e *Enricher) apply(inv *Inventory, r *schema.Record, ifc *Interface) {
	if !ifc.IsZero() {
		e.hits.Add(1)
		// Decode the tuples once rather than through the accessors.
		p := ifc.pools()
		place, kind := p.tuple(ifc.rec.place)[:placeWords], p.tuple(ifc.rec.kind)[:kindWords]
		setRefIfMissing(r, schema.VpcID, p, place, plVpc)
		setRefIfMissing(r, schema.SubnetID, p, place, plSubnet)
		setIfMissing(r, schema.InstanceID, p.str(ifc.rec.inst))
		setRefIfMissing(r, schema.Region, p, place, plRegion)
		setRefIfMissing(r, schema.AzID, p, place, plAZID)
		setRefIfMissing(r, schema.ENIType, p, kind, kindType)
		setRefIfMissing(r, schema.ENIDescription, p, kind, kindDescription)
		setRefIfMissing(r, schema.ENISecurityGroupIDs, p, kind, kindGroups)
		if ifc.rec.tags != 0 {
			for i, k := range e.tagKeys {
				if i >= schema.MaxTagColumns {
					break
				}
				if v, ok := ifc.tag(k, i); ok {
					r.SetStr(schema.ENITag0+schema.FieldID(i), str(v))
				}
			}
		}
	} else {
		e.miss(r)
	}
	if peer := peerAddr(r, ifc); peer != nil {
		if sub, ok := inv.Peer(peer); ok {
			r.SetStr(schema.PeerSubnetID, str(sub.ID))
			setIfMissing(r, schema.PeerVpcID, sub.VpcID)
		}
	}
}

// peerAddr picks the address of the flow that is not the interface's own:
// by flow-direction when the format has it, else by matching the
// interface's addresses, else the destination of an outbound-looking flow.
// ifc is the zero Interface when the interface is unknown.
func peerAddr(r *schema.Record, ifc *Interface) []byte {
	src, dst := r.Str[schema.SrcAddr], r.Str[schema.DstAddr]
	hasSrc, hasDst := r.IsSet(schema.SrcAddr), r.IsSet(schema.DstAddr)
	if r.IsSet(schema.FlowDirection) {
		switch string(r.Str[schema.FlowDirection]) {
		case "egress":
			if hasDst {
				return dst
			}
		case "ingress":
			if hasSrc {
				return src
			}
		}
	}
	if ifc.hasPrivateIPs() {
		if a, ok := parseAddr(src); hasSrc && ok && ifc.HasPrivateIP(a) {
			return nilIf(!hasDst, dst)
		}
		if a, ok := parseAddr(dst); hasDst && ok && ifc.HasPrivateIP(a) {
			return nilIf(!hasSrc, src)
		}
	}
	if hasDst {
		return dst
	}
	return nil
}

func nilIf(cond bool, b []byte) []byte {
	if cond {
		return nil
	}
	return b
}

func (e *Enricher) miss(r *schema.Record) {
	e.misses.Add(1)
	account := "unknown"
	if r.IsSet(schema.AccountID) {
		account = string(r.Str[schema.AccountID])
	}
	c, ok := e.missAccounts.Load(account)
	if !ok {
		label := account
		if e.missAccountN.Add(1) > maxMissAccounts {
			label = "other"
		}
		c, _ = e.missAccounts.LoadOrStore(account, e.missesTotal.WithLabelValues(label))
	}
	c.(prometheus.Counter).Inc()
	// Log the first few misses of every minute.
	now := time.Now().Unix() / 60
	if last := e.lastMissLog.Load(); last != now && e.lastMissLog.CompareAndSwap(last, now) {
		e.missLogsInBurst.Store(0)
	}
	if e.missLogsInBurst.Add(1) <= 5 {
		e.logger.Warn("interface not in the inventory; enrichment columns stay null",
			"interface_id", string(r.Str[schema.InterfaceID]), "account", account)
	}
}
