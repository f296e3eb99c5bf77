package enrich

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// subnetInventory builds an inventory of subnets given as "id cidr[ cidr…]".
func subnetInventory(t testing.TB, specs ...string) *Inventory {
	t.Helper()
	b := newBuilder(nil)
	for _, s := range specs {
		f := strings.Fields(s)
		r := rawSubnet{SubnetID: f[0], VpcID: "vpc-" + f[0], AvailabilityZone: "us-east-1a"}
		for _, c := range f[1:] {
			if strings.Contains(c, ":") {
				r.IPv6Associations = append(r.IPv6Associations, rawIPv6CIDRItem{IPv6CidrBlock: c})
			} else {
				r.CidrBlock = c
			}
		}
		if err := b.addSubnet(&r, ""); err != nil {
			t.Fatal(err)
		}
	}
	return newInventory(b.snapshot())
}

func TestPeerTestdata(t *testing.T) {
	inv := loadTestdata(t)
	tests := []struct{ addr, want string }{
		{"10.1.1.77", "subnet-0aa11bb22cc33dd44"},
		{"10.1.1.0", "subnet-0aa11bb22cc33dd44"},
		{"10.1.1.255", "subnet-0aa11bb22cc33dd44"},
		{"10.1.2.9", "subnet-0bb22cc33dd44ee55"},
		{"::ffff:10.1.2.9", "subnet-0bb22cc33dd44ee55"},
		{"10.1.3.1", ""},
		{"2600:1f18:abcd:1100::99", "subnet-0aa11bb22cc33dd44"},
		{"2600:1f18:abcd:1100:ffff:ffff:ffff:ffff", "subnet-0aa11bb22cc33dd44"},
		{"2600:1f18:abcd:1200::1", ""}, // disassociated block
		{"2a05:d018:12:3500::5", "subnet-0ee55ff6600112233"},
		{"2a05:d018:12:3400:8e1f:2b3c:4d5e:6f70", "subnet-0dd44ee55ff660011"},
		{"172.31.47.255", "subnet-0dd44ee55ff660011"},
		{"172.31.48.0", ""},
		{"10.20.64.9", "subnet-0ff6600112233aabb"},
		{"8.8.8.8", ""},
		{"::", ""},
		{"-", ""},
		{"", ""},
		{"10.1.1", ""},
		{"10.1.1.077", ""},
	}
	for _, tt := range tests {
		sn, ok := inv.Peer([]byte(tt.addr))
		got := ""
		if ok {
			got = sn.ID
		}
		if got != tt.want {
			t.Errorf("Peer(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	sn, _ := inv.Peer([]byte("10.1.1.1"))
	if sn.VpcID != "vpc-0123456789abcdef0" || sn.Region != "us-east-1" || sn.AvailabilityZoneID != "use1-az4" {
		t.Errorf("subnet = %+v", sn)
	}
}

func TestPeerLongestPrefix(t *testing.T) {
	inv := subnetInventory(t,
		"vpc16 10.0.0.0/16",
		"sub24 10.0.1.0/24",
		"sub28 10.0.1.16/28",
		"next24 10.0.2.0/24",
		"host 10.0.1.20/32",
		"edge 0.0.0.0/8",
		"top 255.255.255.0/24",
		"all6 2600:1f18::/32",
		"vpc56 2600:1f18:1:100::/56",
		"sub64 2600:1f18:1:101::/64",
		"sub80 2600:1f18:1:101:abcd::/80",
		"host6 2600:1f18:1:101:abcd::1/128",
		"end6 ffff:ffff:ffff:ffff::/64",
	)
	tests := []struct{ addr, want string }{
		{"10.0.0.1", "vpc16"},
		{"10.0.1.1", "sub24"},
		{"10.0.1.15", "sub24"},
		{"10.0.1.16", "sub28"},
		{"10.0.1.20", "host"},
		{"10.0.1.21", "sub28"},
		{"10.0.1.31", "sub28"},
		{"10.0.1.32", "sub24"},
		{"10.0.1.255", "sub24"},
		{"10.0.2.0", "next24"},
		{"10.0.3.0", "vpc16"},
		{"10.0.255.255", "vpc16"},
		{"10.1.0.0", ""},
		{"9.255.255.255", ""},
		{"0.0.0.0", "edge"},
		{"0.255.255.255", "edge"},
		{"255.255.255.255", "top"},
		{"255.255.254.255", ""},
		{"2600:1f18::1", "all6"},
		{"2600:1f18:1:100::1", "vpc56"},
		{"2600:1f18:1:101::1", "sub64"},
		{"2600:1f18:1:101:abcd::2", "sub80"},
		{"2600:1f18:1:101:abcd::1", "host6"},
		{"2600:1f18:1:101:abce::1", "sub64"},
		{"2600:1f18:1:1ff::1", "vpc56"},
		{"2600:1f18:1:200::1", "all6"},
		{"2600:1f19::1", ""},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "end6"},
		{"::ffff:10.0.1.20", "host"},
	}
	for _, tt := range tests {
		sn, ok := inv.Peer([]byte(tt.addr))
		got := ""
		if ok {
			got = sn.ID
		}
		if got != tt.want {
			t.Errorf("Peer(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestPeerAmbiguousCIDR(t *testing.T) {
	// The same VPC range in two accounts: deterministic, first wins.
	inv := subnetInventory(t, "a 10.0.0.0/24", "b 10.0.0.0/24", "c 10.0.0.0/25")
	if inv.AmbiguousCIDRs() != 1 {
		t.Errorf("AmbiguousCIDRs() = %d, want 1", inv.AmbiguousCIDRs())
	}
	for addr, want := range map[string]string{"10.0.0.1": "c", "10.0.0.200": "a"} {
		if sn, _ := inv.Peer([]byte(addr)); sn == nil || sn.ID != want {
			t.Errorf("Peer(%s) = %v, want %s", addr, sn, want)
		}
	}
}

func TestPeerMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var specs []string
	var prefixes []netip.Prefix
	for i := range 3000 {
		var p netip.Prefix
		if i%3 == 0 {
			var b [16]byte
			b[0], b[1], b[2] = 0x26, 0x00, byte(rng.IntN(4))
			for j := 3; j < 16; j++ {
				b[j] = byte(rng.IntN(4)) // few distinct values: plenty of nesting
			}
			p = netip.PrefixFrom(netip.AddrFrom16(b), 20+rng.IntN(109)).Masked()
		} else {
			b := [4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(8)), byte(rng.IntN(256))}
			p = netip.PrefixFrom(netip.AddrFrom4(b), 12+rng.IntN(21)).Masked()
		}
		prefixes = append(prefixes, p)
		specs = append(specs, fmt.Sprintf("s%d %s", i, p))
	}
	inv := subnetInventory(t, specs...)
	brute := func(a netip.Addr) string {
		best, bestBits := "", -1
		for i, p := range prefixes {
			if p.Contains(a) && p.Bits() > bestBits {
				best, bestBits = fmt.Sprintf("s%d", i), p.Bits()
			}
		}
		return best
	}
	for range 20000 {
		var a netip.Addr
		if rng.IntN(3) == 0 {
			var b [16]byte
			b[0], b[1], b[2] = 0x26, 0x00, byte(rng.IntN(4))
			for j := 3; j < 16; j++ {
				b[j] = byte(rng.IntN(4))
			}
			a = netip.AddrFrom16(b)
		} else {
			a = netip.AddrFrom4([4]byte{10, byte(rng.IntN(5)), byte(rng.IntN(9)), byte(rng.IntN(256))})
		}
		want := brute(a)
		sn, ok := inv.PeerAddr(a)
		got := ""
		if ok {
			got = sn.ID
		}
		// Among equal prefixes the first subnet wins, as in brute.
		if got != want {
			t.Fatalf("PeerAddr(%s) = %q, want %q", a, got, want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []string{
		"0.0.0.0", "255.255.255.255", "10.1.2.3", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.1.1.1", "1..1.1", ".1.1.1", "1.1.1.",
		"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::", "1:2:3:4:5:6:7:8:9",
		"2600:1f18:abcd:1100::10", "2600:1F18:ABCD::", "::ffff:10.1.2.3", "64:ff9b::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:1.2.3.4",
		"1::2::3", ":1::", "1:", ":", ":::", "12345::", "g::", "::1.2.3", "fe80::1%eth0", "", "-", "1.2.3.4 ", " 1.2.3.4",
		"::ffff:1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4",
	}
	for _, s := range tests {
		checkParseAddr(t, s)
	}
}

func checkParseAddr(t *testing.T, s string) {
	t.Helper()
	want, err := netip.ParseAddr(s)
	wantOK := err == nil && want.Zone() == ""
	got, ok := parseAddr([]byte(s))
	if ok != wantOK || (ok && got != want) {
		t.Errorf("parseAddr(%q) = %v, %v; netip.ParseAddr = %v, %v", s, got, ok, want, err)
	}
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"10.1.2.3", "::ffff:10.1.2.3", "2600:1f18:abcd:1100::10", "1:2:3:4:5:6:7:8", "::", "1::2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "%") {
			return // zones are rejected on purpose
		}
		checkParseAddr(t, s)
	})
}
