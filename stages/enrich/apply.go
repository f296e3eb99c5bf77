package enrich

import (
	"log/slog"
	"slices"
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
	hitsTotal       prometheus.Counter
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
		hitsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_enrich_hits_total", Help: "Records joined to an inventory interface."}),
	}
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

// Enrich fills the AWS columns the record lacks (vpc_id, subnet_id,
// instance_id, region, az_id) from its interface, adds the eni_* columns,
// and attributes the other address of the flow to a subnet and VPC. Values
// the record carries always win.
func (e *Enricher) Enrich(r *schema.Record) {
	inv := e.current()
	if inv == nil || !r.IsSet(schema.InterfaceID) {
		return
	}
	ifc, ok := inv.Interface(r.Str[schema.InterfaceID])
	if ok {
		e.hits.Add(1)
		setIfMissing(r, schema.VpcID, ifc.VpcID)
		setIfMissing(r, schema.SubnetID, ifc.SubnetID)
		setIfMissing(r, schema.InstanceID, ifc.InstanceID)
		setIfMissing(r, schema.Region, ifc.Region)
		setIfMissing(r, schema.AzID, ifc.AvailabilityZoneID)
		setIfMissing(r, schema.ENIType, ifc.InterfaceType)
		setIfMissing(r, schema.ENIDescription, ifc.Description)
		setIfMissing(r, schema.ENISecurityGroupIDs, ifc.SecurityGroupIDs)
		for i, k := range e.tagKeys {
			if i >= schema.MaxTagColumns {
				break
			}
			if v, ok := ifc.Tags[k]; ok {
				r.SetStr(schema.ENITag0+schema.FieldID(i), str(v))
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
	if ifc != nil && len(ifc.PrivateIPs) > 0 {
		if a, ok := parseAddr(src); hasSrc && ok && slices.Contains(ifc.PrivateIPs, a) {
			return nilIf(!hasDst, dst)
		}
		if a, ok := parseAddr(dst); hasDst && ok && slices.Contains(ifc.PrivateIPs, a) {
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
