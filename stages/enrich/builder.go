package enrich

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// snapshot is the immutable result of reading one source once. Inventories
// reference snapshots' storage rather than copying it.
type snapshot struct {
	interfaces [][]Interface // chunks of at most chunkSize, each with cap chunkSize
	subnets    []Subnet
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

// arenaChunk is the size of the blocks that small strings are packed into.
const arenaChunk = 64 << 10

// builder turns raw records into a snapshot, interning repeated strings and
// packing unique ones so that a million interfaces stay compact. A builder
// is used by one goroutine and discarded after snapshot.
type builder struct {
	tagKeys map[string]struct{}
	strs    map[string]string            // interned strings
	tagSets map[string]map[string]string // canonical tag text -> shared map
	arena   strings.Builder              // current string block
	addrs   []netip.Addr                 // current address block

	chunks  [][]Interface
	subnets []Subnet

	// scratch space, reused per record
	groups []string
	tags   []rawTag
	ips    []netip.Addr
	buf    []byte
}

func newBuilder(tagKeys []string) *builder {
	b := &builder{
		strs:    make(map[string]string),
		tagSets: make(map[string]map[string]string),
	}
	if len(tagKeys) > 0 {
		b.tagKeys = make(map[string]struct{}, len(tagKeys))
		for _, k := range tagKeys {
			b.tagKeys[k] = struct{}{}
		}
	}
	return b
}

// pack copies s into the current string block. Strings sliced from a
// strings.Builder stay valid while later writes fit in its capacity: the
// builder appends and never rewrites bytes it has handed out.
func (b *builder) pack(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > arenaChunk/8 {
		return string(s)
	}
	if b.arena.Cap()-b.arena.Len() < len(s) {
		b.arena = strings.Builder{}
		b.arena.Grow(arenaChunk)
	}
	start := b.arena.Len()
	b.arena.Write(s)
	return b.arena.String()[start:]
}

// intern returns the shared copy of s.
func (b *builder) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := b.strs[s]; ok {
		return v
	}
	v := b.pack([]byte(s))
	b.strs[v] = v
	return v
}

// internBytes is intern for a byte slice; it allocates only for a new value.
func (b *builder) internBytes(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	if v, ok := b.strs[string(s)]; ok {
		return v
	}
	v := b.pack(s)
	b.strs[v] = v
	return v
}

// packAddrs copies addrs into the current address block and returns a slice
// of it whose capacity is capped, so that appending to it cannot clobber a
// neighbour.
func (b *builder) packAddrs(addrs []netip.Addr) []netip.Addr {
	if len(addrs) == 0 {
		return nil
	}
	const block = 4096
	if len(addrs) > block/8 {
		return slices.Clone(addrs)
	}
	if cap(b.addrs)-len(b.addrs) < len(addrs) {
		b.addrs = make([]netip.Addr, 0, block)
	}
	start := len(b.addrs)
	b.addrs = append(b.addrs, addrs...)
	return b.addrs[start:len(b.addrs):len(b.addrs)]
}

// addInterface converts r and appends it. region, when not empty, is the
// region the record was described in.
func (b *builder) addInterface(r *rawInterface, region string) error {
	if r.NetworkInterfaceID == "" {
		return errMissingInterfaceID
	}
	ips, err := b.parseIPs(r)
	if err != nil {
		return err
	}
	if region == "" {
		region = regionFromAZ(r.AvailabilityZone)
	}
	instance := ""
	if r.Attachment != nil {
		instance = r.Attachment.InstanceID
	}
	it := Interface{
		ID:                 b.pack([]byte(r.NetworkInterfaceID)), // unique: not worth a map entry
		OwnerID:            b.intern(r.OwnerID),
		VpcID:              b.intern(r.VpcID),
		SubnetID:           b.intern(r.SubnetID),
		AvailabilityZone:   b.intern(r.AvailabilityZone),
		AvailabilityZoneID: b.intern(r.AvailabilityZoneID),
		Region:             b.intern(region),
		InstanceID:         b.intern(instance),
		InterfaceType:      b.intern(r.InterfaceType),
		Description:        b.intern(r.Description),
		RequesterID:        b.intern(r.RequesterID),
		RequesterManaged:   r.RequesterManaged,
		SecurityGroupIDs:   b.groupList(r.Groups),
		Tags:               b.tagMap(r.TagSet),
		PrivateIPs:         b.packAddrs(ips),
	}
	if n := len(b.chunks); n == 0 || len(b.chunks[n-1]) == chunkSize {
		b.chunks = append(b.chunks, make([]Interface, 0, chunkSize))
	}
	last := &b.chunks[len(b.chunks)-1]
	*last = append(*last, it)
	return nil
}

// parseIPs collects the private IPv4 addresses then the IPv6 addresses,
// without duplicates, into scratch space.
func (b *builder) parseIPs(r *rawInterface) ([]netip.Addr, error) {
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
			return nil, err
		}
	}
	if err := add(r.PrivateIPAddress); err != nil {
		return nil, err
	}
	for _, p := range r.IPv6Addresses {
		if err := add(p.IPv6Address); err != nil {
			return nil, err
		}
	}
	if err := add(r.IPv6Address); err != nil {
		return nil, err
	}
	return b.ips, nil
}

// groupList returns the interned, sorted, comma-joined group ids.
func (b *builder) groupList(groups []rawGroup) string {
	b.groups = b.groups[:0]
	for _, g := range groups {
		if g.GroupID != "" {
			b.groups = append(b.groups, g.GroupID)
		}
	}
	if len(b.groups) == 0 {
		return ""
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
	return b.internBytes(b.buf)
}

// tagMap returns the shared map holding the configured tags, or nil.
func (b *builder) tagMap(tags []rawTag) map[string]string {
	if len(b.tagKeys) == 0 {
		return nil
	}
	b.tags = b.tags[:0]
	for _, t := range tags {
		if _, ok := b.tagKeys[t.Key]; ok {
			b.tags = append(b.tags, t)
		}
	}
	if len(b.tags) == 0 {
		return nil
	}
	// Stable sort then keep the last of equal keys, as a map would.
	slices.SortStableFunc(b.tags, func(x, y rawTag) int { return strings.Compare(x.Key, y.Key) })
	b.buf = b.buf[:0]
	for i, t := range b.tags {
		if i+1 < len(b.tags) && b.tags[i+1].Key == t.Key {
			continue
		}
		b.buf = append(b.buf, t.Key...)
		b.buf = append(b.buf, 0)
		b.buf = append(b.buf, t.Value...)
		b.buf = append(b.buf, 0)
	}
	if m, ok := b.tagSets[string(b.buf)]; ok {
		return m
	}
	m := make(map[string]string, len(b.tags))
	for _, t := range b.tags {
		m[b.intern(t.Key)] = b.intern(t.Value)
	}
	b.tagSets[string(b.buf)] = m
	return m
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
		ID:                 b.intern(r.SubnetID),
		VpcID:              b.intern(r.VpcID),
		AvailabilityZone:   b.intern(r.AvailabilityZone),
		AvailabilityZoneID: b.intern(r.AvailabilityZoneID),
		Region:             b.intern(region),
		CIDRs:              cidrs,
	})
	return nil
}

// snapshot returns what was built. The builder must not be used afterwards.
func (b *builder) snapshot() *snapshot {
	if n := len(b.chunks); n > 0 {
		// Only the last chunk can be partly used: trim it. (Inventories
		// address chunks by index, so a short last chunk is fine.)
		b.chunks[n-1] = slices.Clone(b.chunks[n-1])
	}
	return &snapshot{interfaces: b.chunks, subnets: slices.Clip(b.subnets)}
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
