package enrich

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"flowlake/schema"
)

// syntheticENI returns a 17-digit ENI id for i (distinct for distinct i).
func syntheticENI(i uint64) string {
	return fmt.Sprintf("eni-0%016x", i*0x9e3779b97f4a7c15)
}

// syntheticProfile shapes a synthetic inventory.
type syntheticProfile struct {
	interfaces int
	// uniqueNames gives this fraction of interfaces a unique Name tag (a
	// configured high-cardinality tag costs a string and a tag set per
	// interface).
	uniqueNames float64
}

// buildSynthetic builds a realistic-looking inventory through the same
// builder the sources use: 50 accounts, 4 regions, 2,000 VPCs, 20,000
// subnets, 300,000 instances (several interfaces each, as on EKS nodes), 15%
// AWS-managed interfaces without instance, one private IPv4 each plus 20%
// with a secondary and 10% with an IPv6 address, 20,000 security group
// combinations, and low-cardinality team/env tags on half of them.
func buildSynthetic(p syntheticProfile) *Inventory {
	rng := rand.New(rand.NewPCG(7, 11))
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}
	tagKeys := []string{"team", "env"}
	if p.uniqueNames > 0 {
		tagKeys = append(tagKeys, "Name")
	}
	b := newBuilder(tagKeys)
	var r rawInterface
	for i := range p.interfaces {
		subnet := rng.IntN(20000)
		vpc := subnet / 10
		region := regions[vpc%len(regions)]
		az := region + string(rune('a'+subnet%4))
		sg := rng.IntN(20000)
		r = rawInterface{
			NetworkInterfaceID: syntheticENI(uint64(i)),
			OwnerID:            fmt.Sprintf("%012d", 100000000000+vpc%50),
			VpcID:              fmt.Sprintf("vpc-0%016x", vpc),
			SubnetID:           fmt.Sprintf("subnet-0%016x", subnet),
			AvailabilityZone:   az,
			AvailabilityZoneID: fmt.Sprintf("%s-az%d", region[:2], subnet%4+1),
			InterfaceType:      "interface",
			Description:        "Primary network interface",
			Groups:             []rawGroup{{fmt.Sprintf("sg-0%016x", sg)}},
			PrivateIPAddress:   fmt.Sprintf("10.%d.%d.%d", subnet>>8&255, subnet&255, i&255),
		}
		if sg%3 == 0 {
			r.Groups = append(r.Groups, rawGroup{fmt.Sprintf("sg-0%016x", sg+1)})
		}
		switch x := rng.IntN(100); {
		case x < 15:
			r.RequesterManaged = true
			r.RequesterID = fmt.Sprintf("AROAEXAMPLE%09d", x)
			r.InterfaceType = []string{"natGateway", "lambda", "vpc_endpoint", "network_load_balancer"}[x%4]
			r.Description = fmt.Sprintf("AWS managed %s %d", r.InterfaceType, rng.IntN(5000))
		case x < 30:
			r.Description = ""
			fallthrough
		default:
			r.Attachment = &rawAttachment{InstanceID: fmt.Sprintf("i-0%016x", rng.IntN(300000))}
		}
		if rng.IntN(5) == 0 {
			r.PrivateIPAddresses = []rawPrivateIP{{r.PrivateIPAddress}, {fmt.Sprintf("10.%d.%d.%d", subnet>>8&255, subnet&255, (i+128)&255)}}
		}
		if rng.IntN(10) == 0 {
			r.IPv6Address = fmt.Sprintf("2600:1f18:%x:%x::%x", vpc, subnet&255, i&0xffff)
		}
		if rng.IntN(2) == 0 {
			r.TagSet = []rawTag{{"team", fmt.Sprintf("team-%d", rng.IntN(50))}, {"env", []string{"prod", "staging", "dev", "test"}[rng.IntN(4)]}, {"owner", "someone"}}
		}
		if p.uniqueNames > 0 && rng.Float64() < p.uniqueNames {
			r.TagSet = append(r.TagSet, rawTag{"Name", fmt.Sprintf("node-%d", i)})
		}
		if err := b.addInterface(&r, ""); err != nil {
			panic(err)
		}
	}
	return newInventory(b.snapshot())
}

// heapOf reports the live heap (HeapInuse) that build's result holds.
func heapOf(build func() *Inventory) (*Inventory, uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	inv := build()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(inv)
	return inv, after.HeapInuse - before.HeapInuse
}

// memoryBudget is the limit for the inventory of 1M interfaces:
// 300 MB, decimal.
const memoryBudget = 300_000_000

func TestInventoryMemory1M(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1M-interface inventories")
	}
	for _, tt := range []struct {
		name string
		p    syntheticProfile
	}{
		// 1.3 addresses per interface, team/env tags on half of them.
		{"team-env-tags", syntheticProfile{interfaces: 1_000_000}},
		// The realistic case: a Name tag, unique per interface, on 20%.
		{"realistic-unique-names", syntheticProfile{interfaces: 1_000_000, uniqueNames: 0.2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, heap := heapOf(func() *Inventory { return buildSynthetic(tt.p) })
			t.Logf("1M interfaces: HeapInuse delta %d bytes = %.1f MiB = %.1f MB (%.0f B/interface)",
				heap, float64(heap)/(1<<20), float64(heap)/1e6, float64(heap)/float64(inv.Len()))
			if inv.Len() != 1_000_000 {
				t.Fatalf("Len() = %d", inv.Len())
			}
			if heap >= memoryBudget {
				t.Errorf("heap %d bytes exceeds the budget of %d", heap, memoryBudget)
			}
		})
	}
}

func BenchmarkInventoryMemory(b *testing.B) {
	for _, p := range []syntheticProfile{
		{interfaces: 1_000_000},
		{interfaces: 1_000_000, uniqueNames: 0.2},
	} {
		b.Run(fmt.Sprintf("n=%d/uniqueNames=%.0f%%", p.interfaces, p.uniqueNames*100), func(b *testing.B) {
			var heap uint64
			for b.Loop() {
				_, heap = heapOf(func() *Inventory { return buildSynthetic(p) })
			}
			b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(heap)/float64(p.interfaces), "heap-B/interface")
		})
	}
}

// lookupLoop runs lookup b.N times (via b.Loop) and reports lookups per
// second of wall time and per second of the thread's CPU time; the latter is
// the per-core figure on a shared, busy machine.
func lookupLoop(b *testing.B, lookup func(i int)) { batchLoop(b, 1, lookup) }

// batchLoop is lookupLoop for a lookup function that does n lookups per call.
func batchLoop(b *testing.B, n int, lookup func(i int)) {
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	i := 0
	var cpu0 time.Duration
	for b.Loop() {
		if i == 0 {
			cpu0 = threadCPU()
		}
		lookup(i)
		i++
	}
	lookups := float64(i * n)
	b.ReportMetric(lookups/b.Elapsed().Seconds(), "lookups/s")
	if cpu := threadCPU() - cpu0; cpu0 > 0 && cpu > 0 {
		b.ReportMetric(lookups/cpu.Seconds(), "lookups/cpu-s")
	}
}

// benchBatch is the number of lookups per call in the batch benchmarks:
// about the lines of a message, which a parse worker has at hand at once.
const benchBatch = 64

var (
	bigOnce sync.Once
	bigInv  *Inventory
)

func bigInventory() *Inventory {
	bigOnce.Do(func() { bigInv = buildSynthetic(syntheticProfile{interfaces: 1_000_000}) })
	return bigInv
}

func BenchmarkInterfaceLookup(b *testing.B) {
	inv := bigInventory()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bc := range []struct {
		name string
		hit  bool
		hot  int // distinct ids looked up
	}{
		{"hit/random-of-1M", true, 1_000_000},
		{"hit/hot-64k", true, 1 << 16},
		{"hit/hot-1k", true, 1000},
		{"miss", false, 1 << 16},
	} {
		// The ids live in one buffer, as they would in a parse buffer.
		ids := make([][]byte, 1<<20)
		buf := make([]byte, 0, len(ids)*21)
		hot := make([]uint64, bc.hot)
		for i := range hot {
			hot[i] = uint64(rng.IntN(1_000_000))
		}
		for i := range ids {
			n := hot[rng.IntN(len(hot))]
			if !bc.hit {
				n += 1_000_000
			}
			start := len(buf)
			buf = append(buf, syntheticENI(n)...)
			ids[i] = buf[start:len(buf):len(buf)]
		}
		b.Run(bc.name, func(b *testing.B) {
			found, n := 0, 0
			lookupLoop(b, func(i int) {
				if _, ok := inv.Interface(ids[i&(len(ids)-1)]); ok {
					found++
				}
				n++
			})
			if bc.hit && found != n {
				b.Fatalf("found %d of %d", found, n)
			}
		})
		b.Run(bc.name+"/batch", func(b *testing.B) {
			found, n := 0, 0
			out := make([]Interface, benchBatch)
			batchLoop(b, benchBatch, func(i int) {
				start := i * benchBatch & (len(ids) - 1)
				found += inv.Interfaces(ids[start:start+benchBatch], out)
				n += benchBatch
			})
			if bc.hit && found != n {
				b.Fatalf("found %d of %d", found, n)
			}
		})
		b.Run(bc.name+"/baseline-go-map", func(b *testing.B) {
			m := baselineMap(inv)
			lookupLoop(b, func(i int) { _ = m[string(ids[i&(len(ids)-1)])] })
		})
	}
}

// benchIDs returns 1<<20 ids drawn from hot distinct synthetic ids (offset
// by 1M, past the inventory, for misses), living in one buffer as they
// would in a parse buffer.
func benchIDs(rng *rand.Rand, hot int, miss bool) [][]byte {
	ids := make([][]byte, 1<<20)
	buf := make([]byte, 0, len(ids)*21)
	pool := make([]uint64, hot)
	for i := range pool {
		pool[i] = uint64(rng.IntN(1_000_000))
		if miss {
			pool[i] += 1_000_000
		}
	}
	for i := range ids {
		start := len(buf)
		buf = append(buf, syntheticENI(pool[rng.IntN(len(pool))])...)
		ids[i] = buf[start:len(buf):len(buf)]
	}
	return ids
}

// BenchmarkInterfaceAccess is a hit that also reads a field (the subnet
// id's length), so that it pays for whatever the record costs beyond the
// index.
func BenchmarkInterfaceAccess(b *testing.B) {
	inv := bigInventory()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bc := range []struct {
		name string
		hot  int
	}{{"random-of-1M", 1_000_000}, {"hot-64k", 1 << 16}, {"hot-1k", 1000}} {
		ids := benchIDs(rng, bc.hot, false)
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			lookupLoop(b, func(i int) {
				if it, ok := inv.Interface(ids[i&(len(ids)-1)]); ok {
					n += len(it.SubnetID())
				}
			})
			if n == 0 {
				b.Fatal("no subnet ids")
			}
		})
	}
}

// BenchmarkEnrich enriches default-format records (no flow direction, so
// the interface's addresses pick the peer) over the 1M-interface inventory.
func BenchmarkEnrich(b *testing.B) {
	inv := bigInventory()
	e := NewEnricher(func() *Inventory { return inv }, []string{"team", "env"}, nil, nil)
	rng := rand.New(rand.NewPCG(8, 9))
	for _, bc := range []struct {
		name string
		hot  int
	}{{"random-of-1M", 1_000_000}, {"hot-64k", 1 << 16}, {"hot-1k", 1000}} {
		ids := benchIDs(rng, bc.hot, false)
		b.Run(bc.name, func(b *testing.B) {
			var r schema.Record
			src, dst := []byte("10.1.2.3"), []byte("172.16.0.1")
			lookupLoop(b, func(i int) {
				r.Reset()
				r.SetStr(schema.InterfaceID, ids[i&(len(ids)-1)])
				r.SetStr(schema.SrcAddr, src)
				r.SetStr(schema.DstAddr, dst)
				e.Enrich(&r)
			})
			if hits, _ := e.Stats(); hits == 0 {
				b.Fatal("no hits")
			}
		})
		b.Run(bc.name+"/batch", func(b *testing.B) {
			records := make([]schema.Record, benchBatch)
			rs := make([]*schema.Record, benchBatch)
			src, dst := []byte("10.1.2.3"), []byte("172.16.0.1")
			batchLoop(b, benchBatch, func(i int) {
				for k := range records {
					r := &records[k]
					r.Reset()
					r.SetStr(schema.InterfaceID, ids[(i*benchBatch+k)&(len(ids)-1)])
					r.SetStr(schema.SrcAddr, src)
					r.SetStr(schema.DstAddr, dst)
					rs[k] = r
				}
				e.EnrichBatch(rs)
			})
		})
	}
}

var (
	baselineOnce sync.Once
	baseline     map[string]Interface
)

// baselineMap is the obvious alternative to the ENI table, for comparison:
// a Go map from id to the (already decoded) interface handle.
func baselineMap(inv *Inventory) map[string]Interface {
	baselineOnce.Do(func() {
		baseline = make(map[string]Interface, inv.Len())
		for i := range inv.Len() {
			id := syntheticENI(uint64(i))
			baseline[id], _ = inv.Interface([]byte(id))
		}
	})
	return baseline
}

// peerBenchInventory has 100k subnet CIDRs: 70k IPv4 (/16 VPC-wide ranges,
// /20, /24, /26 and /28 subnets, nested) and 30k IPv6 (/56 and /64).
func peerBenchInventory() (*Inventory, [][]byte) {
	rng := rand.New(rand.NewPCG(5, 6))
	b := newBuilder(nil)
	var inside []netip.Prefix
	add := func(i int, p netip.Prefix) {
		r := rawSubnet{SubnetID: fmt.Sprintf("subnet-0%016x", i), VpcID: "vpc-1", AvailabilityZone: "us-east-1a"}
		if p.Addr().Is4() {
			r.CidrBlock = p.String()
		} else {
			r.IPv6Associations = []rawIPv6CIDRItem{{IPv6CidrBlock: p.String()}}
		}
		if err := b.addSubnet(&r, ""); err != nil {
			panic(err)
		}
		inside = append(inside, p)
	}
	n := 0
	for i := range 256 {
		add(n, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
		n++
	}
	v4 := []struct{ bits, count int }{{20, 4000}, {24, 40000}, {26, 20000}, {28, 5744}}
	for _, l := range v4 {
		for range l.count {
			a := netip.AddrFrom4([4]byte{byte([]int{10, 172, 100}[rng.IntN(3)]), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
			add(n, netip.PrefixFrom(a, l.bits).Masked())
			n++
		}
	}
	for i := range 30000 {
		var a [16]byte
		a[0], a[1], a[2], a[3] = 0x26, 0x00, 0x1f, byte(0x10+rng.IntN(16)) // 2600:1f1x::
		a[4], a[5], a[6] = byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))
		bits := 64
		if i%10 == 0 {
			bits = 56
		} else {
			a[7] = byte(rng.IntN(256))
		}
		add(n, netip.PrefixFrom(netip.AddrFrom16(a), bits))
		n++
	}
	inv := newInventory(b.snapshot())

	// Queries: 60% inside a random subnet, 40% random (mostly no match),
	// each family in proportion.
	addrs := make([][]byte, 1<<16)
	for i := range addrs {
		var a netip.Addr
		switch x := rng.IntN(10); {
		case x < 6:
			p := inside[rng.IntN(len(inside))]
			raw := p.Addr().AsSlice()
			for j := p.Bits() / 8; j < len(raw); j++ {
				raw[j] |= byte(rng.IntN(256)) & byte(0xff>>max(0, p.Bits()-8*j))
			}
			a, _ = netip.AddrFromSlice(raw)
		case x < 8:
			a = netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		default:
			var r [16]byte
			for j := range r {
				r[j] = byte(rng.IntN(256))
			}
			r[0] = 0x20 | r[0]&0x1f // 2000::/3
			a = netip.AddrFrom16(r)
		}
		addrs[i] = []byte(a.String())
	}
	return inv, addrs
}

func BenchmarkPeerLookup(b *testing.B) {
	inv, addrs := peerBenchInventory()
	if got := inv.Subnets(); got != 100_000 {
		b.Fatalf("Subnets() = %d", got)
	}
	parsed := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		parsed[i] = netip.MustParseAddr(string(a))
	}
	b.Run("text", func(b *testing.B) {
		found, n := 0, 0
		lookupLoop(b, func(i int) {
			if _, ok := inv.Peer(addrs[i&(len(addrs)-1)]); ok {
				found++
			}
			n++
		})
		b.ReportMetric(float64(found)/float64(n), "hit-ratio")
	})
	b.Run("addr", func(b *testing.B) {
		lookupLoop(b, func(i int) { inv.PeerAddr(parsed[i&(len(parsed)-1)]) })
	})
}
