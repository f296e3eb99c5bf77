package enrich

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"unsafe"
)

var testTagKeys = []string{"Name", "team", "env"}

// ifaceFields is an Interface decoded into plain fields, for comparisons.
type ifaceFields struct {
	ID                 string
	OwnerID            string
	VpcID              string
	SubnetID           string
	AvailabilityZone   string
	AvailabilityZoneID string
	Region             string
	InstanceID         string
	InterfaceType      string
	Description        string
	RequesterID        string
	RequesterManaged   bool
	SecurityGroupIDs   string
	Tags               map[string]string // nil when none
	PrivateIPs         []netip.Addr      // nil when none
}

func fields(it Interface) *ifaceFields {
	f := &ifaceFields{
		ID: it.ID(), OwnerID: it.OwnerID(), VpcID: it.VpcID(), SubnetID: it.SubnetID(),
		AvailabilityZone: it.AvailabilityZone(), AvailabilityZoneID: it.AvailabilityZoneID(),
		Region: it.Region(), InstanceID: it.InstanceID(), InterfaceType: it.InterfaceType(),
		Description: it.Description(), RequesterID: it.RequesterID(), RequesterManaged: it.RequesterManaged(),
		SecurityGroupIDs: it.SecurityGroupIDs(), PrivateIPs: slices.Collect(it.PrivateIPs()),
	}
	for k, v := range it.Tags() {
		if f.Tags == nil {
			f.Tags = map[string]string{}
		}
		f.Tags[k] = v
	}
	return f
}

// loadTestdata builds an inventory from testdata/interfaces and testdata/subnets.
func loadTestdata(t testing.TB) *Inventory {
	t.Helper()
	snap, err := loadFiles([]string{"testdata/interfaces"}, []string{"testdata/subnets"}, testTagKeys)
	if err != nil {
		t.Fatal(err)
	}
	return newInventory(snap)
}

func TestInterfaceLookup(t *testing.T) {
	inv := loadTestdata(t)
	if got, want := inv.Len(), 6; got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	if got, want := inv.Subnets(), 5; got != want {
		t.Fatalf("Subnets() = %d, want %d", got, want)
	}
	tests := []struct {
		name string
		id   string
		want *ifaceFields // nil: not found
	}{
		{
			name: "instance with tags, two groups and IPv6",
			id:   "eni-0a1b2c3d4e5f60718",
			want: &ifaceFields{
				ID: "eni-0a1b2c3d4e5f60718", OwnerID: "111122223333", VpcID: "vpc-0123456789abcdef0",
				SubnetID: "subnet-0aa11bb22cc33dd44", AvailabilityZone: "us-east-1a", AvailabilityZoneID: "use1-az4",
				Region: "us-east-1", InstanceID: "i-0c50d5961bcb2d47b", InterfaceType: "interface",
				Description:      "Primary network interface",
				SecurityGroupIDs: "sg-0a1b2c3d4e5f60718,sg-0f00ba12345678901",
				Tags:             map[string]string{"Name": "web-1", "team": "payments", "env": "prod"},
				PrivateIPs: []netip.Addr{
					netip.MustParseAddr("10.1.1.10"), netip.MustParseAddr("10.1.1.11"),
					netip.MustParseAddr("2600:1f18:abcd:1100::10"),
				},
			},
		},
		{
			name: "NAT gateway: requester managed, no instance",
			id:   "eni-0bbbb1111cccc2222",
			want: &ifaceFields{
				ID: "eni-0bbbb1111cccc2222", OwnerID: "111122223333", VpcID: "vpc-0123456789abcdef0",
				SubnetID: "subnet-0bb22cc33dd44ee55", AvailabilityZone: "us-east-1b", AvailabilityZoneID: "use1-az6",
				Region: "us-east-1", InterfaceType: "natGateway",
				Description: "Interface for NAT Gateway nat-0a9b8c7d6e5f40312",
				RequesterID: "AROAXAMPLE0NATGW000000:natgw", RequesterManaged: true,
				PrivateIPs: []netip.Addr{netip.MustParseAddr("10.1.2.5")},
			},
		},
		{
			name: "short legacy id",
			id:   "eni-1a2b3c4d",
			want: &ifaceFields{
				ID: "eni-1a2b3c4d", OwnerID: "111122223333", VpcID: "vpc-0123456789abcdef0",
				SubnetID: "subnet-0aa11bb22cc33dd44", AvailabilityZone: "us-east-1a", AvailabilityZoneID: "use1-az4",
				Region: "us-east-1", InterfaceType: "interface", SecurityGroupIDs: "sg-0a1b2c3d4e5f60718",
				Tags:       map[string]string{"team": "payments", "env": "prod"},
				PrivateIPs: []netip.Addr{netip.MustParseAddr("10.1.1.200")},
			},
		},
		{
			name: "local zone: region from AZ",
			id:   "eni-0d1d2d3d4d5d6d7d8",
			want: &ifaceFields{
				ID: "eni-0d1d2d3d4d5d6d7d8", OwnerID: "444455556666", VpcID: "vpc-0aaaabbbbccccdddd",
				SubnetID: "subnet-0ff6600112233aabb", AvailabilityZone: "us-west-2-lax-1a", AvailabilityZoneID: "usw2-lax1-az1",
				Region: "us-west-2", InstanceID: "i-0fedcba9876543210", InterfaceType: "interface",
				Description: "Primary network interface", SecurityGroupIDs: "sg-0aaa111bbb222ccc3",
				PrivateIPs: []netip.Addr{netip.MustParseAddr("10.20.64.9")},
			},
		},
		{
			name: "IPv6-only interface",
			id:   "eni-0c0c0c0c0c0c0c0c0",
			want: &ifaceFields{
				ID: "eni-0c0c0c0c0c0c0c0c0", OwnerID: "444455556666", VpcID: "vpc-0fedcba9876543210",
				SubnetID: "subnet-0ee55ff6600112233", AvailabilityZone: "eu-west-1a", AvailabilityZoneID: "euw1-az1",
				Region: "eu-west-1", InstanceID: "i-0123456789abcdef0", InterfaceType: "interface",
				SecurityGroupIDs: "sg-0eee555fff6660007",
				Tags:             map[string]string{"Name": "v6-worker", "env": "staging"},
				PrivateIPs:       []netip.Addr{netip.MustParseAddr("2a05:d018:12:3500::1f")},
			},
		},
		{name: "unknown", id: "eni-0000000000000000f"},
		{name: "unknown short", id: "eni-00000000"},
		{name: "same value, fewer digits", id: "eni-a1b2c3d4e5f60718"},
		{name: "upper case is a different id", id: "eni-0A1B2C3D4E5F60718"},
		{name: "too long", id: "eni-0a1b2c3d4e5f607180"},
		{name: "bare prefix", id: "eni-"},
		{name: "empty", id: ""},
		{name: "not an eni", id: "i-0c50d5961bcb2d47b"},
		{name: "dash", id: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := inv.Interface([]byte(tt.id))
			if tt.want == nil {
				if ok {
					t.Fatalf("Interface(%q) = %+v, want not found", tt.id, got)
				}
				return
			}
			if !ok {
				t.Fatalf("Interface(%q) not found", tt.id)
			}
			if f := fields(got); !reflect.DeepEqual(f, tt.want) {
				t.Errorf("Interface(%q) =\n%+v\nwant\n%+v", tt.id, f, tt.want)
			}
		})
	}
}

func TestInterfaceOddIDs(t *testing.T) {
	// Ids outside the eni-<lowercase hex> form still round-trip exactly.
	b := newBuilder(nil)
	ids := []string{"ENI-0A1B2C3D", "eni-0a1b2c3d4e5f607189", "eni-xyz", "eni-0a1b2c3d", "eni-00a1b2c3d", "x"}
	for _, id := range ids {
		if err := b.addInterface(&rawInterface{NetworkInterfaceID: id, SubnetID: "subnet-" + id}, "us-east-1"); err != nil {
			t.Fatal(err)
		}
	}
	inv := newInventory(b.snapshot())
	if inv.Len() != len(ids) {
		t.Fatalf("Len() = %d, want %d", inv.Len(), len(ids))
	}
	for _, id := range ids {
		got, ok := inv.Interface([]byte(id))
		if !ok || got.ID() != id || got.SubnetID() != "subnet-"+id {
			t.Errorf("Interface(%q) = %+v, %v", id, fields(got), ok)
		}
	}
	for _, id := range []string{"eni-0A1B2C3D", "ENI-0a1b2c3d", "eni-a1b2c3d", "eni-000a1b2c3d"} {
		if got, ok := inv.Interface([]byte(id)); ok {
			t.Errorf("Interface(%q) = %+v, want not found", id, got)
		}
	}
}

func TestInterfaceSnapshotsAndSwap(t *testing.T) {
	// An interface moved to another subnet: a newer inventory has the new
	// value, one still held by a reader keeps the old one.
	mk := func(subnet string) *snapshot {
		b := newBuilder(nil)
		if err := b.addInterface(&rawInterface{NetworkInterfaceID: "eni-0a1b2c3d4e5f60718", SubnetID: subnet, AvailabilityZone: "us-east-1a"}, ""); err != nil {
			t.Fatal(err)
		}
		return b.snapshot()
	}
	old := newInventory(mk("subnet-old"))
	id := []byte("eni-0a1b2c3d4e5f60718")
	held, _ := old.Interface(id)
	cur := newInventory(mk("subnet-new"))
	if got, _ := cur.Interface(id); got.SubnetID() != "subnet-new" {
		t.Errorf("new inventory: SubnetID = %q, want subnet-new", got.SubnetID())
	}
	if held.SubnetID() != "subnet-old" {
		t.Errorf("held interface changed: SubnetID = %q", held.SubnetID())
	}
	// Later snapshots win within one inventory.
	merged := newInventory(mk("subnet-a"), mk("subnet-b"))
	if got, _ := merged.Interface(id); merged.Len() != 1 || got.SubnetID() != "subnet-b" {
		t.Errorf("merged: Len() = %d, SubnetID = %q; want 1, subnet-b", merged.Len(), got.SubnetID())
	}
}

func TestManyInterfacesAcrossBlocks(t *testing.T) {
	// Enough ids for several string blocks and a table that is sized once.
	b := newBuilder(nil)
	const n = 3*blockSize/22 + 17
	for i := range n {
		r := rawInterface{NetworkInterfaceID: syntheticENI(uint64(i)), SubnetID: "subnet-x", AvailabilityZone: "us-east-1a"}
		if err := b.addInterface(&r, ""); err != nil {
			t.Fatal(err)
		}
	}
	inv := newInventory(b.snapshot())
	if inv.Len() != n {
		t.Fatalf("Len() = %d, want %d", inv.Len(), n)
	}
	for i := range n {
		id := syntheticENI(uint64(i))
		got, ok := inv.Interface([]byte(id))
		if !ok || got.ID() != id || got.SubnetID() != "subnet-x" {
			t.Fatalf("Interface(%q) = %+v, %v", id, fields(got), ok)
		}
	}
}

func TestRegionFromAZ(t *testing.T) {
	tests := []struct{ az, want string }{
		{"us-east-1a", "us-east-1"},
		{"ap-southeast-2c", "ap-southeast-2"},
		{"eu-central-1b", "eu-central-1"},
		{"us-gov-west-1a", "us-gov-west-1"},
		{"cn-northwest-1a", "cn-northwest-1"},
		{"us-west-2-lax-1a", "us-west-2"},
		{"us-west-2-den-1a", "us-west-2"},
		{"us-east-1-wl1-bos-wlz-1", "us-east-1"},
		{"ap-northeast-1-wl1-nrt-wlz-1", "ap-northeast-1"},
		{"me-central-1c", "me-central-1"},
		{"use1-az4", ""},
		{"", ""},
		{"1a", ""},
		{"us-east", ""},
		{"us--1a", ""},
	}
	for _, tt := range tests {
		if got := regionFromAZ(tt.az); got != tt.want {
			t.Errorf("regionFromAZ(%q) = %q, want %q", tt.az, got, tt.want)
		}
	}
}

func TestSourceRegionWins(t *testing.T) {
	b := newBuilder(nil)
	if err := b.addInterface(&rawInterface{NetworkInterfaceID: "eni-01", AvailabilityZone: "us-east-1a"}, "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	if err := b.addSubnet(&rawSubnet{SubnetID: "subnet-1", AvailabilityZone: "us-east-1a", CidrBlock: "10.0.0.0/24"}, ""); err != nil {
		t.Fatal(err)
	}
	inv := newInventory(b.snapshot())
	if it, _ := inv.Interface([]byte("eni-01")); it.Region() != "eu-west-1" {
		t.Errorf("Region = %q, want the source's eu-west-1", it.Region())
	}
	if sn, _ := inv.Peer([]byte("10.0.0.1")); sn.Region != "us-east-1" {
		t.Errorf("subnet Region = %q, want us-east-1", sn.Region)
	}
}

func TestInterning(t *testing.T) {
	b := newBuilder([]string{"team"})
	for _, id := range []string{"eni-01", "eni-02"} {
		r := rawInterface{
			NetworkInterfaceID: id, VpcID: "vpc-1", AvailabilityZone: "us-east-1a",
			Groups: []rawGroup{{"sg-2"}, {"sg-1"}, {"sg-2"}},
			TagSet: []rawTag{{"team", "a"}, {"other", "x"}},
		}
		if err := b.addInterface(&r, ""); err != nil {
			t.Fatal(err)
		}
	}
	inv := newInventory(b.snapshot())
	a, _ := inv.Interface([]byte("eni-01"))
	c, _ := inv.Interface([]byte("eni-02"))
	if a.SecurityGroupIDs() != "sg-1,sg-2" {
		t.Errorf("SecurityGroupIDs = %q, want sg-1,sg-2", a.SecurityGroupIDs())
	}
	if f := fields(a); !reflect.DeepEqual(f.Tags, map[string]string{"team": "a"}) {
		t.Errorf("Tags = %v", f.Tags)
	}
	if a.rec.tags == 0 || a.rec.tags != c.rec.tags {
		t.Error("equal tag sets are not shared")
	}
	if a.rec.place != c.rec.place || a.rec.kind != c.rec.kind {
		t.Error("equal placement or kind tuples are not shared")
	}
	if unsafe.StringData(a.SecurityGroupIDs()) != unsafe.StringData(c.SecurityGroupIDs()) {
		t.Error("equal strings are not interned")
	}
}

func TestLookupsDoNotAllocate(t *testing.T) {
	inv := loadTestdata(t)
	ids := [][]byte{[]byte("eni-0a1b2c3d4e5f60718"), []byte("eni-1a2b3c4d"), []byte("eni-ffff"), []byte("ENI-odd")}
	addrs := [][]byte{[]byte("10.1.1.77"), []byte("2600:1f18:abcd:1100::99"), []byte("::ffff:10.1.2.9"), []byte("8.8.8.8"), []byte("bogus")}
	a4, a6 := netip.MustParseAddr("10.1.1.11"), netip.MustParseAddr("2600:1f18:abcd:1100::10")
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		for _, id := range ids {
			it, _ := inv.Interface(id)
			n += len(it.ID()) + len(it.OwnerID()) + len(it.VpcID()) + len(it.SubnetID()) + len(it.AvailabilityZone()) +
				len(it.AvailabilityZoneID()) + len(it.Region()) + len(it.InstanceID()) + len(it.InterfaceType()) +
				len(it.Description()) + len(it.RequesterID()) + len(it.SecurityGroupIDs())
			if v, ok := it.Tag("team"); ok && it.RequesterManaged() == it.HasPrivateIP(a4) && it.HasPrivateIP(a6) {
				n += len(v)
			}
		}
		for _, a := range addrs {
			inv.Peer(a)
		}
	})
	if allocs != 0 || n == 0 {
		t.Errorf("lookups allocate %.1f times per run, want 0", allocs)
	}
}

func TestNilAndEmptyInventory(t *testing.T) {
	for _, inv := range []*Inventory{nil, {}, newInventory()} {
		if _, ok := inv.Interface([]byte("eni-0a1b2c3d4e5f60718")); ok {
			t.Error("found an interface in an empty inventory")
		}
		if _, ok := inv.Peer([]byte("10.0.0.1")); ok {
			t.Error("found a peer in an empty inventory")
		}
		if inv.Len() != 0 || inv.Subnets() != 0 {
			t.Error("empty inventory has entries")
		}
	}
}

// eniKeyScalar is the plain reference for eniKey: the value of the digits,
// except that the last 16 of 17 digits are kept as interleaved nibbles
// (digit k of the first eight in bits 8k..8k+3, of the last eight in bits
// 8k+4..8k+7).
func eniKeyScalar(id string) (lo uint64, hi uint32, ok bool) {
	n := len(id) - 4
	if n < 1 || n > 17 || id[:4] != "eni-" {
		return 0, 0, false
	}
	for i := 4; i < len(id); i++ {
		d := hexLower[id[i]]
		if d > 15 {
			return 0, 0, false
		}
		switch k := i - 5; {
		case n != 17:
			lo = lo<<4 | uint64(d)
		case k < 0:
			hi = uint32(d)
		case k < 8:
			lo |= uint64(d) << (8 * k)
		default:
			lo |= uint64(d) << (8*(k-8) + 4)
		}
	}
	return lo, hi | uint32(n)<<8, true
}

func TestENIKey(t *testing.T) {
	for _, id := range []string{
		"eni-0a1b2c3d4e5f60718", "eni-ffffffffffffffffff", "eni-fffffffffffffffff", "eni-00000000000000000", "eni-12345678",
		"eni-abcdefab", "eni-ABCDEFAB", "eni-1234567g", "eni-1234567/", "eni-123456:8", "eni-`2345678", "eni-1234567\\x80",
		"eni-0a1b2c3d4e5f6071G", "eni-Fa1b2c3d4e5f60718", "eni-1", "eni-", "eni", "ENI-12345678", "eni_12345678", "eni-123456789",
	} {
		lo, hi, ok := eniKey([]byte(id))
		wlo, whi, wok := eniKeyScalar(id)
		if lo != wlo || hi != whi || ok != wok {
			t.Errorf("eniKey(%q) = %x %x %v, want %x %x %v", id, lo, hi, ok, wlo, whi, wok)
		}
	}
}

func FuzzENIKey(f *testing.F) {
	f.Add("eni-0a1b2c3d4e5f60718")
	f.Add("eni-1a2b3c4d")
	f.Fuzz(func(t *testing.T, id string) {
		lo, hi, ok := eniKey([]byte(id))
		wlo, whi, wok := eniKeyScalar(id)
		if lo != wlo || hi != whi || ok != wok {
			t.Errorf("eniKey(%q) = %x %x %v, want %x %x %v", id, lo, hi, ok, wlo, whi, wok)
		}
	})
}

// tableEntry is a keyed entry whose record is just a marker, for table tests.
func tableEntry(t *testing.T, id string, mark uint32) (eniEntry, string) {
	t.Helper()
	lo, hi, ok := eniKey([]byte(id))
	if !ok {
		return eniEntry{s: eniSlot{inst: mark}, id: mark}, id
	}
	return eniEntry{s: eniSlot{lo: lo, hi: uint16(hi) | addrInline4<<addrModeShift, inst: mark}, id: mark}, ""
}

func TestENITableGrows(t *testing.T) {
	// Start far too small: insertion must grow the table and keep every id.
	x := newENITable(1)
	const n = 5000
	for i := range n {
		x.insert(tableEntry(t, syntheticENI(uint64(i)), uint32(i)))
	}
	x.insert(tableEntry(t, syntheticENI(7), 70)) // replace
	if x.n != n {
		t.Fatalf("n = %d, want %d", x.n, n)
	}
	for i := range n {
		want := uint32(i)
		if i == 7 {
			want = 70
		}
		s, pos := x.lookup([]byte(syntheticENI(uint64(i))))
		if s == nil || s.inst != want || x.idAt(pos) != want || s.addrMode() != addrInline4 {
			t.Fatalf("lookup(%d) = %+v at %d", i, s, pos)
		}
	}
	if s, _ := x.lookup([]byte(syntheticENI(n + 1))); s != nil {
		t.Error("found an id never inserted")
	}
}

func TestENITableSameLowBits(t *testing.T) {
	// Ids whose low 64 bits agree but whose length or top digit differ.
	x := newENITable(8)
	lo17, _, _ := eniKey([]byte("eni-1000000000000000a"))
	ids := []string{"eni-a", "eni-0a", "eni-000000000000000a", "eni-1000000000000000a", "eni-f000000000000000a", "eni-0000000a",
		fmt.Sprintf("eni-%016x", lo17)} // 16 digits whose value is a 17-digit key
	for i, id := range ids {
		x.insert(tableEntry(t, id, uint32(i)))
	}
	for i, id := range ids {
		if s, _ := x.lookup([]byte(id)); s == nil || s.inst != uint32(i) {
			t.Errorf("lookup(%q) = %+v; want %d", id, s, i)
		}
	}
	if s, _ := x.lookup([]byte("eni-2000000000000000a")); s != nil {
		t.Error("found an id never inserted")
	}
}

func TestENITableFull(t *testing.T) {
	// Filled to its sizing load, every entry stays reachable and the table
	// does not grow; the odd map takes what has no key.
	const n = 100_000
	x := newENITable(n)
	slots := len(x.slots)
	for i := range n {
		x.insert(tableEntry(t, syntheticENI(uint64(i)), uint32(i)))
	}
	x.insert(tableEntry(t, "ENI-odd", 1<<30))
	if len(x.slots) != slots {
		t.Errorf("table grew from %d to %d slots", slots, len(x.slots))
	}
	if x.n != n+1 {
		t.Fatalf("n = %d, want %d", x.n, n+1)
	}
	for i := range n {
		if s, _ := x.lookup([]byte(syntheticENI(uint64(i)))); s == nil || s.inst != uint32(i) {
			t.Fatalf("lookup(%d) = %+v", i, s)
		}
	}
	if s, pos := x.lookup([]byte("ENI-odd")); s == nil || s.inst != 1<<30 || pos&oddPos == 0 || x.idAt(pos) != 1<<30 {
		t.Errorf("odd id: %+v at %x", s, pos)
	}
	count := 0
	x.each(func(eniEntry, string) { count++ })
	if count != n+1 {
		t.Errorf("each visited %d entries, want %d", count, n+1)
	}
}

func TestInterfacesBatch(t *testing.T) {
	// The batch lookup agrees with Interface for every kind of id, across
	// group boundaries, on single-source, merged and empty inventories.
	b := newBuilder([]string{"team"})
	var ids [][]byte
	for i := range 3*batchGroup + 5 {
		id := syntheticENI(uint64(i))
		if i%4 == 0 {
			id = fmt.Sprintf("eni-%08x", i) // short legacy form
		}
		r := rawInterface{NetworkInterfaceID: id, SubnetID: fmt.Sprintf("subnet-%d", i), AvailabilityZone: "us-east-1a"}
		if err := b.addInterface(&r, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, []byte(id), []byte(syntheticENI(uint64(i+1_000_000))))
	}
	for _, id := range []string{"ENI-odd", "", "eni-", "eni-0A1B2C3D4E5F60718", "eni-0a1b2c3d4e5f6071g", "eni-0a1b2c3d4e5f607189"} {
		ids = append(ids, []byte(id))
	}
	if err := b.addInterface(&rawInterface{NetworkInterfaceID: "ENI-odd", SubnetID: "subnet-odd"}, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	snap := b.snapshot()
	single := newInventory(snap)
	merged := newInventory(loadTestdataSnapshot(t), snap)
	if len(merged.pools) != 2 {
		t.Fatalf("merged inventory has %d pools", len(merged.pools))
	}
	for _, tt := range []struct {
		name string
		inv  *Inventory
	}{{"single", single}, {"merged", merged}, {"empty", &Inventory{}}, {"nil", nil}} {
		t.Run(tt.name, func(t *testing.T) {
			out := make([]Interface, len(ids))
			found := tt.inv.Interfaces(ids, out)
			want := 0
			for i, id := range ids {
				it, ok := tt.inv.Interface(id)
				if ok {
					want++
				}
				if out[i].IsZero() == ok || !reflect.DeepEqual(fields(out[i]), fields(it)) {
					t.Errorf("%q: batch %+v, single %+v, %v", id, fields(out[i]), fields(it), ok)
				}
			}
			if found != want || (tt.inv.Len() > 0 && found == 0) {
				t.Errorf("found %d, want %d", found, want)
			}
		})
	}
}

// loadTestdataSnapshot reads testdata/interfaces and testdata/subnets.
func loadTestdataSnapshot(t *testing.T) *snapshot {
	t.Helper()
	snap, err := loadFiles([]string{"testdata/interfaces"}, []string{"testdata/subnets"}, testTagKeys)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestMergedTableSizedForDistinctIDs(t *testing.T) {
	// Two sources describing the same interfaces: the merged table is sized
	// for the distinct ids, and the later source wins for each.
	mk := func(subnet string) *snapshot {
		b := newBuilder(nil)
		for i := range 1000 {
			if err := b.addInterface(&rawInterface{NetworkInterfaceID: syntheticENI(uint64(i)), SubnetID: subnet}, "us-east-1"); err != nil {
				t.Fatal(err)
			}
		}
		return b.snapshot()
	}
	inv := newInventory(mk("subnet-a"), mk("subnet-b"))
	if inv.Len() != 1000 || len(inv.table.slots) != len(newENITable(1000).slots) {
		t.Errorf("Len() = %d in %d slots; want 1000 in %d", inv.Len(), len(inv.table.slots), len(newENITable(1000).slots))
	}
	for i := range 1000 {
		if it, ok := inv.Interface([]byte(syntheticENI(uint64(i)))); !ok || it.SubnetID() != "subnet-b" {
			t.Fatalf("interface %d: %+v, %v", i, fields(it), ok)
		}
	}
}
