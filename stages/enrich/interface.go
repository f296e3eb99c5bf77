package enrich

import (
	"encoding/binary"
	"iter"
	"net/netip"
)

// Interface is what the inventory knows about one elastic network interface:
// a small value that points at the interface's record in the inventory's
// immutable tables. Its methods decode one field each, never allocate, and
// return strings that are views of the tables, not copies. An Interface and
// the strings it returns stay valid (and unchanged) for as long as the
// caller holds them, even after a newer inventory replaced the one it came
// from. The zero Interface has no fields set.
type Interface struct {
	rec *eniSlot // in the inventory's table; nil for the zero Interface
	inv *Inventory
	pos uint32 // position of the slot, for the id
}

// IsZero reports whether it is the zero Interface, which
// [Inventory.Interfaces] returns for an unknown id.
func (it Interface) IsZero() bool { return it.rec == nil }

// pools returns the pools the record's handles refer to.
func (it *Interface) pools() *pools { return it.inv.pools[it.rec.snap] }

// place returns string i of the placement tuple.
func (it *Interface) place(i int) string {
	if it.rec == nil {
		return ""
	}
	p := it.pools()
	t := p.tuple(it.rec.place)
	return p.strAt(t[2*i], t[2*i+1])
}

// kindStr returns string i of the kind tuple.
func (it *Interface) kindStr(i int) string {
	if it.rec == nil {
		return ""
	}
	p := it.pools()
	t := p.tuple(it.rec.kind)
	return p.strAt(t[2*i], t[2*i+1])
}

// ID returns the interface id (eni-…).
func (it Interface) ID() string {
	if it.rec == nil {
		return ""
	}
	return prefixed(it.pools().ids, it.inv.table.idAt(it.pos))
}

// OwnerID returns the account that owns the interface.
func (it Interface) OwnerID() string { return it.place(plOwner) }

// VpcID returns the VPC id.
func (it Interface) VpcID() string { return it.place(plVpc) }

// SubnetID returns the subnet id.
func (it Interface) SubnetID() string { return it.place(plSubnet) }

// AvailabilityZone returns the availability zone name (us-east-1a).
func (it Interface) AvailabilityZone() string { return it.place(plAZ) }

// AvailabilityZoneID returns the availability zone id (use1-az4).
func (it Interface) AvailabilityZoneID() string { return it.place(plAZID) }

// Region returns the source's region, else the one derived from the
// availability zone.
func (it Interface) Region() string { return it.place(plRegion) }

// InstanceID returns Attachment.InstanceId; empty when the interface is not
// attached to an instance.
func (it Interface) InstanceID() string {
	if it.rec == nil {
		return ""
	}
	return it.pools().str(it.rec.inst)
}

// InterfaceType returns the interface type: interface, natGateway, lambda, ….
func (it Interface) InterfaceType() string { return it.kindStr(kindType) }

// Description returns the interface's description.
func (it Interface) Description() string { return it.kindStr(kindDescription) }

// RequesterID returns the id of the service that created a managed interface.
func (it Interface) RequesterID() string { return it.kindStr(kindRequester) }

// RequesterManaged reports whether an AWS service manages the interface.
func (it Interface) RequesterManaged() bool {
	return it.rec != nil && it.pools().tuple(it.rec.kind)[kindManaged] != 0
}

// SecurityGroupIDs returns the sorted, comma-joined list of group ids.
func (it Interface) SecurityGroupIDs() string { return it.kindStr(kindGroups) }

// Tag returns the value of a configured tag key and whether the interface
// has that tag (its value may be empty). Only the inventory's configured
// tag keys are kept.
func (it Interface) Tag(key string) (string, bool) {
	return it.tag(key, -1)
}

// tag is Tag with a hint: where the key sits in the configured keys.
func (it *Interface) tag(key string, hint int) (string, bool) {
	if it.rec == nil || it.rec.tags == 0 {
		return "", false
	}
	p := it.pools()
	i := p.tagIndex(key, hint)
	if i < 0 {
		return "", false
	}
	set := p.tuple(it.rec.tags)
	if set[i>>5]&(1<<(i&31)) == 0 {
		return "", false
	}
	v := set[tagMaskWords(len(p.tagKeys))+2*i:]
	return p.strAt(v[0], v[1]), true
}

// Tags yields the interface's configured tags in configuration order.
func (it Interface) Tags() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		if it.rec == nil || it.rec.tags == 0 {
			return
		}
		p := it.pools()
		set := p.tuple(it.rec.tags)
		values := set[tagMaskWords(len(p.tagKeys)):]
		for i, k := range p.tagKeys {
			if set[i>>5]&(1<<(i&31)) != 0 && !yield(k, p.strAt(values[2*i], values[2*i+1])) {
				return
			}
		}
	}
}

// tagMaskWords is the size of a tag set's presence mask for n keys.
func tagMaskWords(n int) int { return (n + 31) / 32 }

// PrivateIPs yields the private IPv4 addresses (primary first, as
// described), then the IPv6 addresses.
func (it Interface) PrivateIPs() iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		if it.rec == nil {
			return
		}
		switch it.rec.addrMode() {
		case addrInline4:
			yield(addrFrom4(it.rec.addr))
		case addrList:
			list := it.pools().tuple(it.rec.addr)
			n4, n6 := int(list[0]&0xffff), int(list[0]>>16)
			for _, w := range list[1 : 1+n4] {
				if !yield(addrFrom4(w)) {
					return
				}
			}
			for i := range n6 {
				if !yield(addrFrom16(list[1+n4+4*i:])) {
					return
				}
			}
		}
	}
}

// HasPrivateIP reports whether a is one of the interface's private
// addresses. An IPv4-mapped IPv6 address does not match an IPv4 one.
func (it Interface) HasPrivateIP(a netip.Addr) bool {
	if it.rec == nil {
		return false
	}
	switch it.rec.addrMode() {
	case addrInline4:
		return a.Is4() && addrWord4(a) == it.rec.addr
	case addrList:
		list := it.pools().tuple(it.rec.addr)
		n4, n6 := int(list[0]&0xffff), int(list[0]>>16)
		if a.Is4() {
			w := addrWord4(a)
			for _, v := range list[1 : 1+n4] {
				if v == w {
					return true
				}
			}
			return false
		}
		if !a.Is6() || a.Zone() != "" {
			return false
		}
		b := a.As16()
		hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
		for i := range n6 {
			w := list[1+n4+4*i:]
			if uint64(w[0])<<32|uint64(w[1]) == hi && uint64(w[2])<<32|uint64(w[3]) == lo {
				return true
			}
		}
	}
	return false
}

// hasPrivateIPs reports whether the interface has any private address.
func (it *Interface) hasPrivateIPs() bool { return it.rec != nil && it.rec.addrMode() != addrNone }

func addrWord4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addrFrom4(w uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], w)
	return netip.AddrFrom4(b)
}

func addrFrom16(w []uint32) netip.Addr {
	var b [16]byte
	for i := range 4 {
		binary.BigEndian.PutUint32(b[4*i:], w[i])
	}
	return netip.AddrFrom16(b)
}

// appendAddr16 appends the four words of an IPv6 address.
func appendAddr16(w []uint32, a netip.Addr) []uint32 {
	b := a.As16()
	for i := range 4 {
		w = append(w, binary.BigEndian.Uint32(b[4*i:]))
	}
	return w
}
