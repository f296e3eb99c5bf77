package enrich

import (
	"encoding/binary"
	"net/netip"
)

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
	table *eniTable // shared with the snapshot when only one has interfaces
	pools []*pools  // by eniSlot.snap
	// subnets are kept by pointer: they are few, and Peer hands them out.
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
	if inv == nil || inv.table == nil {
		return 0
	}
	return inv.table.n
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
// id may alias a parse buffer: it is not retained. It never allocates. The
// lookup reads the two cache lines where the interface's record may be and
// nothing else: the returned value points at the record, whose fields its
// accessors decode.
func (inv *Inventory) Interface(id []byte) (Interface, bool) {
	if inv == nil {
		return Interface{}, false
	}
	s, pos := inv.table.lookup(id)
	if s == nil {
		return Interface{}, false
	}
	return Interface{rec: s, inv: inv, pos: pos}, true
}

// Interfaces is Interface for many ids at once: it sets out[i] to the
// interface of ids[i], or to the zero Interface when that id is unknown,
// and returns how many it found. out must be at least as long as ids. It
// never allocates. It looks the ids up in groups, decoding every id of a
// group before reading the table, so that the cache misses of a group
// overlap: over an inventory much larger than the processor's caches it is
// about twice as fast per id as a loop of Interface calls.
func (inv *Inventory) Interfaces(ids [][]byte, out []Interface) int {
	if inv == nil {
		clear(out[:len(ids)])
		return 0
	}
	return inv.table.lookupBatch(ids, out, inv)
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

// maxSnapshots bounds the snapshots of one inventory: eniSlot.snap is 16 bits.
const maxSnapshots = 1 << 16

// newInventory merges snapshots into an inventory. Later snapshots win for
// interface and subnet ids that appear more than once. The snapshots' pools
// and subnets are shared, not copied; so is the interface table when only
// one snapshot has interfaces, which is the common case. Otherwise the
// tables are merged into a new one, about 42 bytes per distinct interface.
func newInventory(snaps ...*snapshot) *Inventory {
	inv := &Inventory{}
	var withIfaces []*snapshot
	total := 0
	for _, s := range snaps {
		if s != nil && s.table.n > 0 {
			withIfaces = append(withIfaces, s)
			total += s.table.n
		}
	}
	switch len(withIfaces) {
	case 0:
	case 1:
		s := withIfaces[0]
		inv.table, inv.pools = &s.table, []*pools{&s.pools}
	default:
		if len(withIfaces) > maxSnapshots {
			panic("enrich: too many snapshots with interfaces")
		}
		t := newENITable(total)
		for k, s := range withIfaces {
			inv.pools = append(inv.pools, &s.pools)
			s.table.each(func(e eniEntry, oddID string) {
				e.s.snap = uint16(k)
				t.insert(e, oddID)
			})
		}
		// Sources that describe the same interfaces (the same account
		// from files and from EC2) leave the table sized for more than it
		// holds: size it again for what it holds.
		if right := newENITable(t.n); len(right.slots) < len(t.slots)*3/4 {
			t.each(right.insert)
			t = right
		}
		inv.table = t
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
