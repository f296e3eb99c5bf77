package enrich

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unsafe"
)

// snapshot is the immutable result of reading one source once. Inventories
// reference snapshots' storage rather than copying it.
type snapshot struct {
	pools
	table   eniTable
	subnets []Subnet
}

// rawInterface is one element of DescribeNetworkInterfaces output, limited to
// the fields the inventory keeps. The JSON names are the AWS CLI's; the EC2
// source fills the same struct from SDK types.
type rawInterface struct {
	NetworkInterfaceID string         `json:"NetworkInterfaceId"`
	OwnerID            string         `json:"OwnerId"`
	VpcID              string         `json:"VpcId"`
	SubnetID           string         `json:"SubnetId"`
	AvailabilityZone   string         `json:"AvailabilityZone"`
	AvailabilityZoneID string         `json:"AvailabilityZoneId"`
	InterfaceType      string         `json:"InterfaceType"`
	Description        string         `json:"Description"`
	RequesterID        string         `json:"RequesterId"`
	RequesterManaged   bool           `json:"RequesterManaged"`
	Attachment         *rawAttachment `json:"Attachment"`
	Groups             []rawGroup     `json:"Groups"`
	TagSet             []rawTag       `json:"TagSet"`
	PrivateIPAddress   string         `json:"PrivateIpAddress"`
	PrivateIPAddresses []rawPrivateIP `json:"PrivateIpAddresses"`
	IPv6Addresses      []rawIPv6Addr  `json:"Ipv6Addresses"`
	IPv6Address        string         `json:"Ipv6Address"`
}

type rawAttachment struct {
	InstanceID string `json:"InstanceId"`
}

type rawGroup struct {
	GroupID string `json:"GroupId"`
}

type rawTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type rawPrivateIP struct {
	PrivateIPAddress string `json:"PrivateIpAddress"`
}

type rawIPv6Addr struct {
	IPv6Address string `json:"Ipv6Address"`
}

// rawSubnet is one element of DescribeSubnets output.
type rawSubnet struct {
	SubnetID           string            `json:"SubnetId"`
	VpcID              string            `json:"VpcId"`
	CidrBlock          string            `json:"CidrBlock"`
	IPv6Associations   []rawIPv6CIDRItem `json:"Ipv6CidrBlockAssociationSet"`
	AvailabilityZone   string            `json:"AvailabilityZone"`
	AvailabilityZoneID string            `json:"AvailabilityZoneId"`
	OwnerID            string            `json:"OwnerId"`
}

type rawIPv6CIDRItem struct {
	IPv6CidrBlock string        `json:"Ipv6CidrBlock"`
	State         *rawCIDRState `json:"Ipv6CidrBlockState"`
}

type rawCIDRState struct {
	State string `json:"State"`
}

var errMissingInterfaceID = errors.New("missing NetworkInterfaceId")

// builder turns raw records into a snapshot: every interface becomes one
// fixed-size slot of handles into the pools, with repeated strings and
// tuples interned and unique ones packed, so that a million interfaces stay
// compact. A builder is used by one goroutine and discarded after snapshot.
type builder struct {
	p        *poolBuilder
	tagIndex map[string]int // configured key -> position in p.tagKeys

	strs   map[string]uint32             // interned strings
	places map[[placeWords]uint32]uint32 // interned placement tuples
	kinds  map[[kindWords]uint32]uint32  // interned kind tuples
	tagSet map[string]uint32             // tag set words (as bytes) -> handle

	entries []eniEntry // in input order; later ones win
	oddIDs  []string   // ids of the entries without a key, in order

	subnetStrs map[string]string // interned subnet fields
	subnets    []Subnet

	// scratch space, reused per record
	groups []string
	ips    []netip.Addr
	words  []uint32
	buf    []byte
}

func newBuilder(tagKeys []string) *builder {
	b := &builder{
		p:          newPoolBuilder(),
		tagIndex:   make(map[string]int, len(tagKeys)),
		strs:       make(map[string]uint32),
		places:     map[[placeWords]uint32]uint32{{}: 0}, // all empty: the zero words at handle 0
		kinds:      map[[kindWords]uint32]uint32{{}: 0},
		tagSet:     make(map[string]uint32),
		subnetStrs: make(map[string]string),
	}
	for _, k := range tagKeys {
		if _, dup := b.tagIndex[k]; !dup {
			b.tagIndex[k] = len(b.p.tagKeys)
			b.p.tagKeys = append(b.p.tagKeys, k)
		}
	}
	return b
}

// intern returns the handle of the shared copy of s (its length prefix).
func (b *builder) intern(s string) uint32 {
	if s == "" {
		return 0
	}
	if h, ok := b.strs[s]; ok {
		return h
	}
	h := b.p.addStr([]byte(s))
	b.strs[s] = h
	return h
}

// internBytes is intern for a byte slice; it allocates only for a new value.
func (b *builder) internBytes(s []byte) uint32 {
	if len(s) == 0 {
		return 0
	}
	if h, ok := b.strs[string(s)]; ok {
		return h
	}
	h := b.p.addStr(s)
	b.strs[string(s)] = h
	return h
}

// strRef returns the (offset, length) word pair by which tuples refer to
// the string of n bytes whose prefix is at h.
func strRef(h uint32, n int) (uint32, uint32) {
	if n == 0 {
		return 0, 0
	}
	return h + uint32(uvarintLen(uint64(n))), uint32(n)
}

// setRef interns s and stores its reference as string i of tuple t.
func (b *builder) setRef(t []uint32, i int, s string) {
	t[2*i], t[2*i+1] = strRef(b.intern(s), len(s))
}

// addInterface converts r and appends it. region, when not empty, is the
// region the record was described in.
func (b *builder) addInterface(r *rawInterface, region string) error {
	if r.NetworkInterfaceID == "" {
		return errMissingInterfaceID
	}
	if err := b.parseIPs(r); err != nil {
		return err
	}
	if region == "" {
		region = regionFromAZ(r.AvailabilityZone)
	}
	instance := ""
	if r.Attachment != nil {
		instance = r.Attachment.InstanceID
	}
	var place [placeWords]uint32
	for i, s := range [placeStrings]string{
		plOwner: r.OwnerID, plVpc: r.VpcID, plSubnet: r.SubnetID,
		plAZ: r.AvailabilityZone, plAZID: r.AvailabilityZoneID, plRegion: region,
	} {
		b.setRef(place[:], i, s)
	}
	var kind [kindWords]uint32
	for i, s := range [kindStrings]string{
		kindType: r.InterfaceType, kindDescription: r.Description, kindRequester: r.RequesterID,
	} {
		b.setRef(kind[:], i, s)
	}
	kind[2*kindGroups], kind[2*kindGroups+1] = b.groupList(r.Groups)
	if r.RequesterManaged {
		kind[kindManaged] = 1
	}
	e := eniEntry{
		s: eniSlot{
			place: internTuple(b, place[:], b.places, place),
			kind:  internTuple(b, kind[:], b.kinds, kind),
			inst:  b.intern(instance),
			tags:  b.tagSetOf(r.TagSet),
		},
		id: b.p.addID(r.NetworkInterfaceID), // unique: not worth a map entry
	}
	e.s.hi = b.addrs(&e.s) << addrModeShift
	lo, hi, ok := eniKey([]byte(r.NetworkInterfaceID))
	if ok {
		e.s.lo, e.s.hi = lo, e.s.hi|uint16(hi)
	} else {
		b.oddIDs = append(b.oddIDs, r.NetworkInterfaceID)
	}
	if b.p.err != nil {
		return b.p.err
	}
	b.entries = append(b.entries, e)
	return nil
}

// internTuple returns the handle of the shared copy of a tuple of words.
func internTuple[K comparable](b *builder, w []uint32, m map[K]uint32, key K) uint32 {
	if h, ok := m[key]; ok {
		return h
	}
	h := b.p.addWords(w)
	m[key] = h
	return h
}

// parseIPs collects the private IPv4 addresses then the IPv6 addresses,
// without duplicates, into b.ips.
func (b *builder) parseIPs(r *rawInterface) error {
	b.ips = b.ips[:0]
	add := func(s string) error {
		if s == "" {
			return nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("interface %s: %w", r.NetworkInterfaceID, err)
		}
		a = a.WithZone("")
		if !slices.Contains(b.ips, a) {
			b.ips = append(b.ips, a)
		}
		return nil
	}
	for _, p := range r.PrivateIPAddresses {
		if err := add(p.PrivateIPAddress); err != nil {
			return err
		}
	}
	if err := add(r.PrivateIPAddress); err != nil {
		return err
	}
	for _, p := range r.IPv6Addresses {
		if err := add(p.IPv6Address); err != nil {
			return err
		}
	}
	if err := add(r.IPv6Address); err != nil {
		return err
	}
	if len(b.ips) > maxAddrs {
		return fmt.Errorf("interface %s: %d addresses, more than %d", r.NetworkInterfaceID, len(b.ips), maxAddrs)
	}
	return nil
}

// maxAddrs bounds an interface's addresses (AWS allows a few dozen): an
// address list counts each family in 16 bits.
const maxAddrs = 0xffff

// addrs stores b.ips in s.addr and returns the address mode: a lone IPv4
// address inline, anything else as a list of IPv4 then IPv6 addresses.
func (b *builder) addrs(s *eniSlot) uint16 {
	switch {
	case len(b.ips) == 0:
		return addrNone
	case len(b.ips) == 1 && b.ips[0].Is4():
		s.addr = addrWord4(b.ips[0])
		return addrInline4
	}
	w := append(b.words[:0], 0)
	n4, n6 := 0, 0
	for _, a := range b.ips {
		if a.Is4() {
			w = append(w, addrWord4(a))
			n4++
		}
	}
	for _, a := range b.ips {
		if !a.Is4() {
			w = appendAddr16(w, a)
			n6++
		}
	}
	w[0] = uint32(n4) | uint32(n6)<<16 // parseIPs allows at most maxAddrs
	b.words = w
	s.addr = b.p.addWords(w)
	return addrList
}

// groupList returns the reference of the interned, sorted, comma-joined
// group ids.
func (b *builder) groupList(groups []rawGroup) (uint32, uint32) {
	b.groups = b.groups[:0]
	for _, g := range groups {
		if g.GroupID != "" {
			b.groups = append(b.groups, g.GroupID)
		}
	}
	if len(b.groups) == 0 {
		return 0, 0
	}
	slices.Sort(b.groups)
	b.groups = slices.Compact(b.groups)
	b.buf = b.buf[:0]
	for i, g := range b.groups {
		if i > 0 {
			b.buf = append(b.buf, ',')
		}
		b.buf = append(b.buf, g...)
	}
	return strRef(b.internBytes(b.buf), len(b.buf))
}

// tagSetOf returns the handle of the shared tag set holding the configured
// tags (the last of equal keys wins, as in a map), or 0 when there is none.
// A set is a presence mask, then a string reference per configured key.
func (b *builder) tagSetOf(tags []rawTag) uint32 {
	nk := len(b.p.tagKeys)
	if nk == 0 {
		return 0
	}
	masks := tagMaskWords(nk)
	w := b.words[:0]
	for range masks + 2*nk {
		w = append(w, 0)
	}
	found := false
	for _, t := range tags {
		i, ok := b.tagIndex[t.Key]
		if !ok {
			continue
		}
		w[i>>5] |= 1 << (i & 31)
		w[masks+2*i], w[masks+2*i+1] = strRef(b.intern(t.Value), len(t.Value))
		found = true
	}
	b.words = w
	if !found {
		return 0
	}
	key := unsafe.String((*byte)(unsafe.Pointer(&w[0])), 4*len(w))
	if h, ok := b.tagSet[key]; ok {
		return h
	}
	h := b.p.addWords(w)
	b.tagSet[strings.Clone(key)] = h
	return h
}

// internSubnetStr returns the shared copy of a subnet field.
func (b *builder) internSubnetStr(s string) string {
	if v, ok := b.subnetStrs[s]; ok {
		return v
	}
	b.subnetStrs[s] = s
	return s
}

// addSubnet converts r and appends it.
func (b *builder) addSubnet(r *rawSubnet, region string) error {
	if r.SubnetID == "" {
		return errors.New("missing SubnetId")
	}
	if region == "" {
		region = regionFromAZ(r.AvailabilityZone)
	}
	var cidrs []netip.Prefix
	add := func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("subnet %s: bad CIDR: %w", r.SubnetID, err)
		}
		p = p.Masked()
		if !slices.Contains(cidrs, p) {
			cidrs = append(cidrs, p)
		}
		return nil
	}
	if r.CidrBlock != "" {
		if err := add(r.CidrBlock); err != nil {
			return err
		}
	}
	for _, a := range r.IPv6Associations {
		if a.IPv6CidrBlock == "" {
			continue
		}
		if a.State != nil && a.State.State != "" && a.State.State != "associated" && a.State.State != "associating" {
			continue // disassociated or failed: the block no longer belongs here
		}
		if err := add(a.IPv6CidrBlock); err != nil {
			return err
		}
	}
	b.subnets = append(b.subnets, Subnet{
		ID:                 b.internSubnetStr(r.SubnetID),
		VpcID:              b.internSubnetStr(r.VpcID),
		AvailabilityZone:   b.internSubnetStr(r.AvailabilityZone),
		AvailabilityZoneID: b.internSubnetStr(r.AvailabilityZoneID),
		Region:             b.internSubnetStr(region),
		CIDRs:              cidrs,
	})
	return nil
}

// snapshot returns what was built. The builder must not be used afterwards.
func (b *builder) snapshot() *snapshot {
	s := &snapshot{pools: b.p.finish(), subnets: slices.Clip(b.subnets)}
	t := newENITable(len(b.entries))
	odd := 0
	for _, e := range b.entries {
		oddID := ""
		if e.s.hi&keyMask == 0 {
			oddID = b.oddIDs[odd]
			odd++
		}
		t.insert(e, oddID)
	}
	s.table = *t
	return s
}

// regionFromAZ derives the region from an availability zone name: the
// dash-separated parts up to the first part that starts with a digit, cut
// after its digits. It handles regular zones (us-east-1a), GovCloud
// (us-gov-west-1a), Local Zones (us-west-2-lax-1a) and Wavelength Zones
// (us-east-1-wl1-bos-wlz-1), and returns "" for anything else, including
// zone ids such as use1-az1.
func regionFromAZ(az string) string {
	start, parts := 0, 0
	for i := 0; i <= len(az); i++ {
		if i < len(az) && az[i] != '-' {
			continue
		}
		part := az[start:i]
		parts++
		if part == "" {
			return ""
		}
		if isDigit(part[0]) {
			if parts < 3 {
				return ""
			}
			j := 0
			for j < len(part) && isDigit(part[j]) {
				j++
			}
			return az[:start+j]
		}
		start = i + 1
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
