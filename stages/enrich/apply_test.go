package enrich

import (
	"reflect"
	"testing"

	"flowlake/schema"
)

// record builds a record from field/value pairs.
func record(kv ...any) *schema.Record {
	r := &schema.Record{}
	for i := 0; i < len(kv); i += 2 {
		r.SetStr(kv[i].(schema.FieldID), []byte(kv[i+1].(string)))
	}
	return r
}

// enrichedFields are the fields Enrich may set.
var enrichedFields = []schema.FieldID{
	schema.VpcID, schema.SubnetID, schema.InstanceID, schema.Region, schema.AzID,
	schema.ENIType, schema.ENIDescription, schema.ENISecurityGroupIDs,
	schema.ENITag0, schema.ENITag0 + 1, schema.ENITag0 + 2,
	schema.PeerSubnetID, schema.PeerVpcID,
}

func setFields(r *schema.Record) map[schema.FieldID]string {
	got := map[schema.FieldID]string{}
	for _, f := range enrichedFields {
		if r.IsSet(f) {
			got[f] = string(r.Str[f])
		}
	}
	return got
}

func TestEnrich(t *testing.T) {
	inv := loadTestdata(t)
	e := NewEnricher(func() *Inventory { return inv }, testTagKeys, nil, nil)
	web := map[schema.FieldID]string{
		schema.VpcID: "vpc-0123456789abcdef0", schema.SubnetID: "subnet-0aa11bb22cc33dd44",
		schema.InstanceID: "i-0c50d5961bcb2d47b", schema.Region: "us-east-1", schema.AzID: "use1-az4",
		schema.ENIType: "interface", schema.ENIDescription: "Primary network interface",
		schema.ENISecurityGroupIDs: "sg-0a1b2c3d4e5f60718,sg-0f00ba12345678901",
		schema.ENITag0:             "web-1", schema.ENITag0 + 1: "payments", schema.ENITag0 + 2: "prod",
	}
	with := func(base map[schema.FieldID]string, kv ...any) map[schema.FieldID]string {
		m := map[schema.FieldID]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(schema.FieldID)] = kv[i+1].(string)
		}
		return m
	}
	const webENI = "eni-0a1b2c3d4e5f60718"
	tests := []struct {
		name string
		r    *schema.Record
		want map[schema.FieldID]string
	}{
		{
			name: "source is a secondary address: the peer is the destination",
			r:    record(schema.InterfaceID, webENI, schema.SrcAddr, "10.1.1.11", schema.DstAddr, "10.1.2.9"),
			want: with(web, schema.PeerSubnetID, "subnet-0bb22cc33dd44ee55", schema.PeerVpcID, "vpc-0123456789abcdef0"),
		},
		{
			name: "destination is the IPv6 address: the peer is the source",
			r:    record(schema.InterfaceID, webENI, schema.SrcAddr, "10.1.2.7", schema.DstAddr, "2600:1f18:abcd:1100::10"),
			want: with(web, schema.PeerSubnetID, "subnet-0bb22cc33dd44ee55", schema.PeerVpcID, "vpc-0123456789abcdef0"),
		},
		{
			name: "values the record carries win",
			r: record(schema.InterfaceID, webENI, schema.VpcID, "vpc-from-record", schema.Region, "eu-north-1",
				schema.SrcAddr, "10.1.1.10", schema.DstAddr, "192.0.2.1"),
			want: with(web, schema.VpcID, "vpc-from-record", schema.Region, "eu-north-1"),
		},
		{
			name: "flow direction: ingress means the source is the peer",
			r: record(schema.InterfaceID, webENI, schema.FlowDirection, "ingress",
				schema.SrcAddr, "10.1.1.77", schema.DstAddr, "10.1.2.5"),
			want: with(web, schema.PeerSubnetID, "subnet-0aa11bb22cc33dd44", schema.PeerVpcID, "vpc-0123456789abcdef0"),
		},
		{
			name: "NAT gateway with one address, no instance, no tags",
			r:    record(schema.InterfaceID, "eni-0bbbb1111cccc2222", schema.SrcAddr, "10.1.2.5", schema.DstAddr, "10.1.1.9"),
			want: map[schema.FieldID]string{
				schema.VpcID: "vpc-0123456789abcdef0", schema.SubnetID: "subnet-0bb22cc33dd44ee55",
				schema.Region: "us-east-1", schema.AzID: "use1-az6", schema.ENIType: "natGateway",
				schema.ENIDescription: "Interface for NAT Gateway nat-0a9b8c7d6e5f40312",
				schema.PeerSubnetID:   "subnet-0aa11bb22cc33dd44", schema.PeerVpcID: "vpc-0123456789abcdef0",
			},
		},
		{
			name: "unknown interface: only the destination is attributed",
			r:    record(schema.InterfaceID, "eni-0000000000000000f", schema.SrcAddr, "10.1.2.5", schema.DstAddr, "10.1.1.9"),
			want: map[schema.FieldID]string{schema.PeerSubnetID: "subnet-0aa11bb22cc33dd44", schema.PeerVpcID: "vpc-0123456789abcdef0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Enrich(tt.r)
			got := setFields(tt.r)
			for f, v := range tt.want {
				if got[f] != v {
					t.Errorf("%s = %q, want %q", schema.Fields[f].Column, got[f], v)
				}
			}
			for f, v := range got {
				if _, ok := tt.want[f]; !ok {
					t.Errorf("%s = %q, want unset", schema.Fields[f].Column, v)
				}
			}
		})
	}
	if hits, misses := e.Stats(); hits != 5 || misses != 1 {
		t.Errorf("Stats() = %d, %d; want 5, 1", hits, misses)
	}
}

func TestEnrichMergedSnapshots(t *testing.T) {
	// Two sources with interfaces: the inventory merges their tables, and
	// each interface still reads its own source's strings and tag layout.
	a := newBuilder([]string{"team", "env"})
	b := newBuilder([]string{"env", "team"})
	add := func(b *builder, id, subnet string, tags ...rawTag) {
		t.Helper()
		r := rawInterface{NetworkInterfaceID: id, SubnetID: subnet, AvailabilityZone: "us-east-1a", TagSet: tags, PrivateIPAddress: "10.0.0.1"}
		if err := b.addInterface(&r, ""); err != nil {
			t.Fatal(err)
		}
	}
	add(a, "eni-0a1b2c3d4e5f60718", "subnet-a", rawTag{"team", "red"}, rawTag{"env", "prod"})
	add(a, "eni-01", "subnet-a1", rawTag{"team", "blue"})
	add(b, "eni-0a1b2c3d4e5f60718", "subnet-b", rawTag{"env", "dev"})
	add(b, "eni-02", "subnet-b2", rawTag{"team", "green"}, rawTag{"env", ""})
	add(b, "ENI-odd", "subnet-odd")
	inv := newInventory(a.snapshot(), nil, b.snapshot())
	if inv.Len() != 4 || len(inv.pools) != 2 {
		t.Fatalf("Len() = %d with %d pools; want 4, 2", inv.Len(), len(inv.pools))
	}
	e := NewEnricher(func() *Inventory { return inv }, []string{"team", "env"}, nil, nil)
	for _, tt := range []struct {
		id, subnet, team, env string
		hasTeam, hasEnv       bool
	}{
		{"eni-0a1b2c3d4e5f60718", "subnet-b", "", "dev", false, true},
		{"eni-01", "subnet-a1", "blue", "", true, false},
		{"eni-02", "subnet-b2", "green", "", true, true},
		{"ENI-odd", "subnet-odd", "", "", false, false},
	} {
		r := record(schema.InterfaceID, tt.id)
		e.Enrich(r)
		got := setFields(r)
		team, hasTeam := got[schema.ENITag0]
		env, hasEnv := got[schema.ENITag0+1]
		if got[schema.SubnetID] != tt.subnet || team != tt.team || env != tt.env || hasTeam != tt.hasTeam || hasEnv != tt.hasEnv {
			t.Errorf("%s: %v", tt.id, got)
		}
		if it, ok := inv.Interface([]byte(tt.id)); !ok || it.ID() != tt.id {
			t.Errorf("Interface(%q) = %+v, %v", tt.id, fields(it), ok)
		}
	}
}

func TestEnrichDoesNotAllocate(t *testing.T) {
	inv := loadTestdata(t)
	e := NewEnricher(func() *Inventory { return inv }, testTagKeys, nil, nil)
	records := []*schema.Record{
		record(schema.InterfaceID, "eni-0a1b2c3d4e5f60718", schema.SrcAddr, "10.1.1.11", schema.DstAddr, "10.1.2.9"),
		record(schema.InterfaceID, "eni-0a1b2c3d4e5f60718", schema.SrcAddr, "10.1.2.7", schema.DstAddr, "2600:1f18:abcd:1100::10"),
		record(schema.InterfaceID, "eni-0bbbb1111cccc2222", schema.SrcAddr, "10.1.2.5", schema.DstAddr, "10.1.1.9"),
		record(schema.InterfaceID, "eni-1a2b3c4d", schema.FlowDirection, "egress", schema.SrcAddr, "10.1.1.200", schema.DstAddr, "8.8.8.8"),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, r := range records {
			e.Enrich(r)
		}
	})
	if allocs != 0 {
		t.Errorf("Enrich allocates %.1f times per run on hits, want 0", allocs)
	}
	if hits, misses := e.Stats(); misses != 0 || hits == 0 {
		t.Errorf("Stats() = %d, %d; want only hits", hits, misses)
	}
}

func TestEnrichBatch(t *testing.T) {
	// EnrichBatch sets exactly what Enrich sets, record by record, counts
	// the same hits and misses, skips records without an interface id, and
	// does not allocate on hits.
	inv := loadTestdata(t)
	mk := func() []*schema.Record {
		var rs []*schema.Record
		for i := range 2*batchGroup + 3 {
			switch i % 5 {
			case 0:
				rs = append(rs, record(schema.InterfaceID, "eni-0a1b2c3d4e5f60718", schema.SrcAddr, "10.1.1.11", schema.DstAddr, "10.1.2.9"))
			case 1:
				rs = append(rs, record(schema.InterfaceID, "eni-0bbbb1111cccc2222", schema.SrcAddr, "10.1.2.5", schema.DstAddr, "10.1.1.9"))
			case 2:
				rs = append(rs, record(schema.InterfaceID, "eni-0000000000000000f", schema.DstAddr, "10.1.1.9"))
			case 3:
				rs = append(rs, record(schema.SrcAddr, "10.1.2.5", schema.DstAddr, "10.1.1.9")) // no interface id
			default:
				rs = append(rs, record(schema.InterfaceID, "eni-1a2b3c4d", schema.FlowDirection, "ingress", schema.SrcAddr, "10.1.2.7"))
			}
		}
		return rs
	}
	one := NewEnricher(func() *Inventory { return inv }, testTagKeys, nil, nil)
	batch := NewEnricher(func() *Inventory { return inv }, testTagKeys, nil, nil)
	want, got := mk(), mk()
	for _, r := range want {
		one.Enrich(r)
	}
	batch.EnrichBatch(got)
	for i := range want {
		if w, g := setFields(want[i]), setFields(got[i]); !reflect.DeepEqual(w, g) {
			t.Errorf("record %d: EnrichBatch set %v, Enrich %v", i, g, w)
		}
	}
	h1, m1 := one.Stats()
	h2, m2 := batch.Stats()
	if h1 != h2 || m1 != m2 || h1 == 0 || m1 == 0 {
		t.Errorf("Stats: batch %d, %d; one by one %d, %d", h2, m2, h1, m1)
	}

	hits := mk()[:2]
	if allocs := testing.AllocsPerRun(100, func() { batch.EnrichBatch(hits) }); allocs != 0 {
		t.Errorf("EnrichBatch allocates %.1f times per run on hits, want 0", allocs)
	}
}
