package enrich

import (
	"encoding/binary"
	"net/netip"
)

// Interface is what the inventory knows about one elastic network interface.
// Values are shared with the inventory: callers must not modify them.
type Interface struct {
	ID                 string // eni-…
	OwnerID            string // account that owns the interface
	VpcID              string
	SubnetID           string
	AvailabilityZone   string
	AvailabilityZoneID string
	Region             string // the source's region, else derived from AvailabilityZone
	InstanceID         string // Attachment.InstanceId; empty when not attached to an instance
	InterfaceType      string // interface, natGateway, lambda, …
	Description        string
	RequesterID        string
	RequesterManaged   bool
	// SecurityGroupIDs is the sorted, comma-joined list of group ids.
	SecurityGroupIDs string
	// Tags holds only the configured tag keys; nil when none is set. Interfaces
	// with the same tag values share one map.
	Tags map[string]string
	// PrivateIPs lists the private IPv4 addresses (primary first, as described)
	// followed by the IPv6 addresses.
	PrivateIPs []netip.Addr
}

// Subnet is a subnet with its CIDR blocks, the target of peer attribution.
// Values are shared with the inventory: callers must not modify them.
type Subnet struct {
	ID                 string
	VpcID              string
	AvailabilityZone   string
	AvailabilityZoneID string
	Region             string
	// CIDRs holds the IPv4 block and the associated IPv6 blocks, masked.
	CIDRs []netip.Prefix
}

// Inventory is an immutable set of interfaces and subnets with lock-free,
// allocation-free lookups. A nil *Inventory is empty.
type Inventory struct {
	chunks  [][]Interface // interface storage; a ref is chunk<<chunkBits | offset
	index   eniIndex
	subnets []*Subnet
	v4      rangeTable // IPv4 prefixes, keyed by the 32-bit address
	v6      rangeTable // IPv6 prefixes up to /64, keyed by the upper 64 bits
	v6long  longTable  // IPv6 prefixes longer than /64 (rare)
	// ambiguousCIDRs counts prefixes that were claimed by more than one
	// subnet (overlapping VPCs in different accounts); the first subnet in
	// inventory order wins.
	ambiguousCIDRs int
}

// Len reports the number of distinct interfaces.
func (inv *Inventory) Len() int {
	if inv == nil {
		return 0
	}
	return inv.index.n
}

// Subnets reports the number of distinct subnets.
func (inv *Inventory) Subnets() int {
	if inv == nil {
		return 0
	}
	return len(inv.subnets)
}

// AmbiguousCIDRs reports how many subnet CIDRs were claimed by more than one
// subnet (typically identical VPC ranges in different accounts). Peer
// attribution for such a CIDR picks the first subnet in inventory order.
func (inv *Inventory) AmbiguousCIDRs() int {
	if inv == nil {
		return 0
	}
	return inv.ambiguousCIDRs
}

// Interface looks up an interface by its id (for example "eni-0a1b2c3d4e5f60718").
// id may alias a parse buffer: it is not retained. It never allocates.
func (inv *Inventory) Interface(id []byte) (*Interface, bool) {
	if inv == nil {
		return nil, false
	}
	ref, ok := inv.index.lookup(id)
	if !ok {
		return nil, false
	}
	return &inv.chunks[ref>>chunkBits][ref&chunkMask], true
}

// Peer finds the subnet whose CIDR is the longest prefix containing the
// textual IPv4 or IPv6 address addr (IPv4-mapped IPv6 addresses match IPv4
// CIDRs). It reports false for an unparseable address, an address outside
// every known subnet, or an inventory without subnets. addr is not retained;
// Peer never allocates.
func (inv *Inventory) Peer(addr []byte) (*Subnet, bool) {
	if inv == nil || len(inv.subnets) == 0 {
		return nil, false
	}
	a, ok := parseAddr(addr)
	if !ok {
		return nil, false
	}
	return inv.PeerAddr(a)
}

// PeerAddr is Peer for a parsed address.
func (inv *Inventory) PeerAddr(a netip.Addr) (*Subnet, bool) {
	if inv == nil || len(inv.subnets) == 0 {
		return nil, false
	}
	label := int32(-1)
	if a.Is4() || a.Is4In6() {
		b := a.As4()
		label = inv.v4.lookup(uint64(binary.BigEndian.Uint32(b[:])))
	} else if a.Is6() {
		b := a.As16()
		hi := binary.BigEndian.Uint64(b[:8])
		if len(inv.v6long.levels) > 0 {
			label = inv.v6long.lookup(hi, binary.BigEndian.Uint64(b[8:]))
		}
		if label < 0 {
			label = inv.v6.lookup(hi)
		}
	}
	if label < 0 {
		return nil, false
	}
	return inv.subnets[label], true
}

// newInventory merges snapshots into an inventory. Later snapshots win for
// interface and subnet ids that appear more than once. The snapshots' storage
// is shared, not copied.
func newInventory(snaps ...*snapshot) *Inventory {
	inv := &Inventory{}
	total := 0
	for _, s := range snaps {
		if s == nil {
			continue
		}
		for _, c := range s.interfaces {
			total += len(c)
		}
	}
	inv.index = newENIIndex(total)
	for _, s := range snaps {
		if s == nil {
			continue
		}
		for _, c := range s.interfaces {
			ci := uint32(len(inv.chunks))
			inv.chunks = append(inv.chunks, c)
			for off := range c {
				inv.index.insert(c[off].ID, ci<<chunkBits|uint32(off))
			}
		}
	}

	// Subnets: the last snapshot that describes an id wins, but the order of
	// first appearance is kept so that results do not depend on map order.
	pos := make(map[string]int)
	for _, s := range snaps {
		if s == nil {
			continue
		}
		for i := range s.subnets {
			sn := &s.subnets[i]
			if p, ok := pos[sn.ID]; ok {
				inv.subnets[p] = sn
				continue
			}
			pos[sn.ID] = len(inv.subnets)
			inv.subnets = append(inv.subnets, sn)
		}
	}
	inv.buildPeerTables()
	return inv
}

// buildPeerTables indexes every subnet CIDR for longest-prefix match.
func (inv *Inventory) buildPeerTables() {
	var v4, v6 []prefixRange
	var long []netip.Prefix
	var longLabels []int32
	for i, sn := range inv.subnets {
		for _, p := range sn.CIDRs {
			label := int32(i)
			addr := p.Addr()
			switch {
			case addr.Is4():
				b := addr.As4()
				v4 = append(v4, newPrefixRange(uint64(binary.BigEndian.Uint32(b[:])), p.Bits(), 32, label))
			case p.Bits() <= 64:
				b := addr.As16()
				v6 = append(v6, newPrefixRange(binary.BigEndian.Uint64(b[:8]), p.Bits(), 64, label))
			default:
				long = append(long, p)
				longLabels = append(longLabels, label)
			}
		}
	}
	var d4, d6, dl int
	inv.v4, d4 = buildRangeTable(v4)
	inv.v6, d6 = buildRangeTable(v6)
	inv.v6long, dl = buildLongTable(long, longLabels)
	inv.ambiguousCIDRs = d4 + d6 + dl
}
