package generate

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"flowlake/schema"
)

var testStart = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

type genLine struct {
	text []byte
	bad  schema.Reason
}

type genMsg struct {
	value, key []byte
	lines      []genLine
}

// generateAll runs a generator to the end, keeping every message and, from
// the generator's insides, every line with its expected parse outcome.
func generateAll(t testing.TB, cfg Config) (*Generator, []genMsg) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var msgs []genMsg
	for {
		value, key, n, ok := g.Next(nil)
		if !ok {
			break
		}
		if n != len(g.lines) {
			t.Fatalf("Next says %d lines, generated %d", n, len(g.lines))
		}
		m := genMsg{value: value, key: key}
		for _, l := range g.lines {
			m.lines = append(m.lines, genLine{text: bytes.Clone(g.text[l.from:l.to]), bad: l.bad})
		}
		msgs = append(msgs, m)
	}
	return g, msgs
}

// inventory decodes the generator's describe-network-interfaces document.
type invENI struct {
	NetworkInterfaceId string
	OwnerId            string
	VpcId              string
	SubnetId           string
	AvailabilityZone   string
	AvailabilityZoneId string
	InterfaceType      string
	Description        string
	RequesterManaged   bool
	PrivateIpAddress   string
	PrivateIpAddresses []struct {
		PrivateIpAddress string
		Primary          bool
	}
	Ipv6Addresses []struct{ Ipv6Address string }
	Attachment    *struct{ InstanceId string }
	Groups        []struct{ GroupId, GroupName string }
	TagSet        []struct{ Key, Value string }
}

type invSubnet struct {
	SubnetId                    string
	VpcId                       string
	CidrBlock                   string
	AvailabilityZone            string
	AvailabilityZoneId          string
	OwnerId                     string
	Ipv6CidrBlockAssociationSet []struct{ Ipv6CidrBlock string }
}

func decodeInventory(t testing.TB, g *Generator) (map[string]*invENI, []invSubnet) {
	t.Helper()
	var inv struct{ NetworkInterfaces []*invENI }
	if err := json.Unmarshal(g.Inventory(), &inv); err != nil {
		t.Fatalf("inventory JSON: %v", err)
	}
	enis := map[string]*invENI{}
	for _, e := range inv.NetworkInterfaces {
		if enis[e.NetworkInterfaceId] != nil {
			t.Fatalf("ENI %s listed twice", e.NetworkInterfaceId)
		}
		enis[e.NetworkInterfaceId] = e
	}
	var sub struct{ Subnets []invSubnet }
	if err := json.Unmarshal(g.Subnets(), &sub); err != nil {
		t.Fatalf("subnets JSON: %v", err)
	}
	return enis, sub.Subnets
}

func (e *invENI) ownAddrs() map[string]bool {
	m := map[string]bool{e.PrivateIpAddress: true}
	for _, a := range e.Ipv6Addresses {
		m[a.Ipv6Address] = true
	}
	return m
}

func (e *invENI) instanceID() string {
	if e.Attachment == nil {
		return ""
	}
	return e.Attachment.InstanceId
}

var (
	reDefaultOK     = regexp.MustCompile(`^2 \d{12} eni-0[0-9a-f]{16} [0-9a-f.:]+ [0-9a-f.:]+ \d{1,5} \d{1,5} (1|6|17|58) [1-9]\d* [1-9]\d* \d{10} \d{10} (ACCEPT|REJECT) OK$`)
	reDefaultNoData = regexp.MustCompile(`^2 \d{12} eni-0[0-9a-f]{16} - - - - - - - \d{10} \d{10} - (NODATA|SKIPDATA)$`)
)

// TestDefaultFormat checks every line of the default format: good lines
// have 14 fields, the AWS shape and parse; bad lines fail with the reason
// Stats promised.
func TestDefaultFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{Records: 5000, Seed: 1}},
		{"bad", Config{Records: 5000, Seed: 2, BadRatio: 0.1}},
		{"batched", Config{Records: 5000, Seed: 3, LinesPerMsg: 7, BadRatio: 0.02, IPv6Ratio: 0.3}},
		{"one ENI", Config{Records: 500, Seed: 4, Accounts: 1, ENIsPerAccount: 1, Regions: []string{"ap-southeast-2"}}},
		{"many accounts", Config{Records: 5000, Seed: 5, Accounts: 400, ENIsPerAccount: 3, Hours: 48}},
		{"all NODATA", Config{Records: 200, Seed: 6, NoDataRatio: 1, SkipDataRatio: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Start = testStart
			g, msgs := generateAll(t, tc.cfg)
			p := schema.NewParser(schema.DefaultFormat, 0)
			var rec schema.Record
			var good, bad int64
			reasons := map[schema.Reason]int64{}
			for _, m := range msgs {
				if !bytes.Equal(m.value, joinLines(m.lines)) {
					t.Fatalf("text message is not its lines joined by newlines: %q", m.value)
				}
				for _, l := range m.lines {
					err := p.Parse(l.text, &rec)
					if l.bad != "" {
						bad++
						reasons[l.bad]++
						var pe *schema.ParseError
						if !errors.As(err, &pe) {
							t.Fatalf("bad line (%s) parsed: %q", l.bad, l.text)
						}
						if pe.Reason != l.bad {
							t.Fatalf("bad line %q: parser says %s, want %s", l.text, pe.Reason, l.bad)
						}
						continue
					}
					good++
					if err != nil {
						t.Fatalf("line %q: %v", l.text, err)
					}
					if n := len(strings.Split(string(l.text), " ")); n != 14 {
						t.Fatalf("line %q has %d fields", l.text, n)
					}
					if !reDefaultOK.Match(l.text) && !reDefaultNoData.Match(l.text) {
						t.Fatalf("line %q does not have the shape of a default-format record", l.text)
					}
				}
			}
			st := g.Stats()
			if st.Records != int64(tc.cfg.Records) || st.Good() != good || st.Bad != bad {
				t.Fatalf("stats %d records, %d good, %d bad; saw %d good, %d bad", st.Records, st.Good(), st.Bad, good, bad)
			}
			for r, n := range reasons {
				if st.BadByReason[r] != n {
					t.Fatalf("BadByReason[%s] = %d, saw %d", r, st.BadByReason[r], n)
				}
			}
			if tc.cfg.BadRatio > 0 && (bad == 0 || len(reasons) < 4) {
				t.Fatalf("BadRatio %v gave %d bad lines with %d reasons", tc.cfg.BadRatio, bad, len(reasons))
			}
		})
	}
}

func joinLines(lines []genLine) []byte {
	var b []byte
	for i, l := range lines {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, l.text...)
	}
	return b
}

// TestFormats parses custom formats and checks each record against the
// inventory: the metadata fields match the ENI, addresses are the ENI's
// own on the right side, and values are in their domains.
func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format *schema.Format
	}{
		{"default", schema.DefaultFormat},
		{"v3", formatV3},
		{"v5 fourth example", formatV5},
		{"v7 ECS", formatV7},
		{"v8", formatV8},
		{"newer fields", formatNewer},
		{"one field", schema.MustParseFormat("${interface-id}")},
		{"action first", schema.MustParseFormat("${action} ${flow-direction} ${srcaddr} ${log-status}")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Records: 20000, Seed: 11, Format: tc.format, Start: testStart, BadRatio: 0.01, IPv6Ratio: 0.1}
			g, msgs := generateAll(t, cfg)
			enis, _ := decodeInventory(t, g)
			p := schema.NewParser(tc.format, 0)
			var rec schema.Record
			set := map[schema.FieldID]int{}
			for _, m := range msgs {
				for _, l := range m.lines {
					err := p.Parse(l.text, &rec)
					if l.bad != "" {
						var pe *schema.ParseError
						if !errors.As(err, &pe) || pe.Reason != l.bad {
							t.Fatalf("bad line %q: got %v, want reason %s", l.text, err, l.bad)
						}
						continue
					}
					if err != nil {
						t.Fatalf("line %q: %v", l.text, err)
					}
					for _, id := range tc.format.Fields() {
						if rec.IsSet(id) {
							set[id]++
						}
					}
					checkRecord(t, tc.format, &rec, l.text, enis, g)
				}
			}
			if tc.format.Has(schema.Version) && set[schema.Version] == 0 {
				t.Fatal("no version")
			}
			if tc.format == formatNewer || tc.format == formatV8 || tc.format == formatV7 {
				// Every field gets a value in some record, except the
				// sublocation ones: no subnet is in a sublocation.
				for _, id := range tc.format.Fields() {
					if id != schema.SublocationType && id != schema.SublocationID && set[id] == 0 {
						t.Errorf("field %s never has a value", id)
					}
				}
			}
		})
	}
}

func str(r *schema.Record, id schema.FieldID) (string, bool) {
	if !r.IsSet(id) {
		return "", false
	}
	return string(r.Str[id]), true
}

func checkRecord(t *testing.T, f *schema.Format, r *schema.Record, line []byte, enis map[string]*invENI, g *Generator) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%q: "+format, append([]any{line}, args...)...)
	}
	if f.Has(schema.Version) && r.Int[schema.Version] != int64(f.Version()) {
		fail("version %d, want %d", r.Int[schema.Version], f.Version())
	}
	if !f.Has(schema.InterfaceID) {
		return
	}
	e := enis[string(r.Str[schema.InterfaceID])]
	if e == nil {
		fail("interface-id not in the inventory")
	}
	if v, ok := str(r, schema.AccountID); ok && v != e.OwnerId {
		fail("account-id %s, ENI owner %s", v, e.OwnerId)
	}
	lo, hi := g.start, g.start+int64(g.cfg.Hours)*3600
	if r.IsSet(schema.Start) {
		if s := r.Int[schema.Start]; s < lo || s >= hi {
			fail("start %d outside [%d, %d)", s, lo, hi)
		}
		if r.IsSet(schema.End) {
			if d := r.Int[schema.End] - r.Int[schema.Start]; d < 0 || d > 600 {
				fail("end - start = %d", d)
			}
		}
	}
	status, _ := str(r, schema.LogStatus)
	if status == "NODATA" || status == "SKIPDATA" {
		for _, id := range f.Fields() {
			if r.IsSet(id) && !noDataFields[id] {
				fail("%s record has %s set", status, id)
			}
		}
		return
	}
	if v, ok := str(r, schema.VpcID); ok && v != e.VpcId {
		fail("vpc-id %s, ENI's %s", v, e.VpcId)
	}
	if v, ok := str(r, schema.SubnetID); ok && v != e.SubnetId {
		fail("subnet-id %s, ENI's %s", v, e.SubnetId)
	}
	if f.Has(schema.InstanceID) {
		v, _ := str(r, schema.InstanceID)
		if v != e.instanceID() {
			fail("instance-id %q, ENI attached to %q", v, e.instanceID())
		}
		if e.InterfaceType == "natGateway" && v != "" {
			fail("NAT gateway record with an instance-id")
		}
	}
	if v, ok := str(r, schema.AzID); ok && v != e.AvailabilityZoneId {
		fail("az-id %s, ENI's %s", v, e.AvailabilityZoneId)
	}
	if v, ok := str(r, schema.Region); ok && v != e.AvailabilityZone[:len(e.AvailabilityZone)-1] {
		fail("region %s, ENI in %s", v, e.AvailabilityZone)
	}
	if v, ok := str(r, schema.InterfaceType); ok && v != e.InterfaceType {
		fail("interface-type %s, ENI's %s", v, e.InterfaceType)
	}
	own := e.ownAddrs()
	src, hasSrc := str(r, schema.SrcAddr)
	dst, hasDst := str(r, schema.DstAddr)
	if hasSrc && hasDst && !own[src] && !own[dst] {
		fail("neither address is the ENI's own")
	}
	dir, hasDir := str(r, schema.FlowDirection)
	if hasDir && hasSrc && dir == "egress" && !own[src] {
		fail("egress record whose srcaddr is not the ENI's")
	}
	if hasDir && hasDst && dir == "ingress" && !own[dst] {
		fail("ingress record whose dstaddr is not the ENI's")
	}
	if f.Has(schema.TrafficPath) && hasDir {
		if p := r.Int[schema.TrafficPath]; dir == "ingress" && r.IsSet(schema.TrafficPath) || dir == "egress" && (p < 1 || p > 8) {
			fail("traffic-path %v on %s", r.Str[schema.TrafficPath], dir)
		}
	}
	if typ, ok := str(r, schema.Type); ok && hasSrc && (typ == "IPv6") != strings.Contains(src, ":") {
		fail("type %s for srcaddr %s", typ, src)
	}
	if r.IsSet(schema.Protocol) {
		proto := r.Int[schema.Protocol]
		if proto != 1 && proto != 6 && proto != 17 && proto != 58 {
			fail("protocol %d", proto)
		}
		if flags := r.Int[schema.TCPFlags]; r.IsSet(schema.TCPFlags) && (proto != 6 && flags != 0 || !strings.Contains(" 0 1 2 3 4 18 19 ", " "+itoa(flags)+" ")) {
			fail("tcp-flags %d with protocol %d", flags, proto)
		}
		if (proto == 1 || proto == 58) && (r.Int[schema.SrcPort] != 0 || r.Int[schema.DstPort] != 0) {
			fail("ICMP with ports")
		}
	}
	if r.IsSet(schema.Packets) && r.IsSet(schema.Bytes) {
		pk, by := r.Int[schema.Packets], r.Int[schema.Bytes]
		if pk < 1 || by < 40*pk || by > 1500*pk {
			fail("%d packets, %d bytes", pk, by)
		}
	}
	if v, ok := str(r, schema.RejectReason); ok && (v != "BPA" || string(r.Str[schema.Action]) != "REJECT") {
		fail("reject-reason %s", v)
	}
	ecs := strings.HasPrefix(e.Description, "arn:aws:ecs:")
	if v, ok := str(r, schema.ECSClusterARN); f.Has(schema.ECSClusterARN) && ok != ecs || ok && !strings.HasPrefix(v, "arn:aws:ecs:"+e.AvailabilityZone[:len(e.AvailabilityZone)-1]+":"+e.OwnerId+":cluster/") {
		fail("ecs-cluster-arn %q for ENI %q", v, e.Description)
	}
	if _, ok := str(r, schema.ECSContainerInstanceID); ok && e.instanceID() == "" {
		fail("container instance on a Fargate task")
	}
}

func itoa(v int64) string { return string(appendInt(nil, int(v), -1)) }

// TestInventory checks that the inventory and subnet documents cover every
// ENI and private address the records use.
func TestInventory(t *testing.T) {
	cfg := Config{Records: 20000, Seed: 21, Format: formatV5, Start: testStart, IPv6Ratio: 0.2, Accounts: 7, ENIsPerAccount: 40,
		Regions: []string{"us-east-1", "eu-west-1", "ap-southeast-2"}}
	g, msgs := generateAll(t, cfg)
	enis, subnets := decodeInventory(t, g)
	if len(enis) != cfg.Accounts*cfg.ENIsPerAccount {
		t.Fatalf("%d ENIs in the inventory, want %d", len(enis), cfg.Accounts*cfg.ENIsPerAccount)
	}
	type sub struct {
		s   invSubnet
		v4  netip.Prefix
		v6  netip.Prefix
		azs string
	}
	byID := map[string]sub{}
	var all []sub
	for _, s := range subnets {
		v4 := netip.MustParsePrefix(s.CidrBlock)
		v6 := netip.MustParsePrefix(s.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock)
		if v4.Bits() != 24 || v6.Bits() != 64 {
			t.Fatalf("subnet %s: %s %s", s.SubnetId, v4, v6)
		}
		x := sub{s, v4, v6, s.AvailabilityZone}
		byID[s.SubnetId] = x
		all = append(all, x)
	}
	// Subnets of one owner never overlap.
	for i, a := range all {
		for _, b := range all[i+1:] {
			if a.v4.Overlaps(b.v4) {
				t.Fatalf("subnets %s and %s overlap", a.s.SubnetId, b.s.SubnetId)
			}
		}
	}
	vpcOwner := map[string]string{}
	kinds := map[string]int{}
	for id, e := range enis {
		kinds[e.InterfaceType]++
		s, ok := byID[e.SubnetId]
		if !ok {
			t.Fatalf("ENI %s: subnet %s not in the subnets document", id, e.SubnetId)
		}
		if s.s.VpcId != e.VpcId || s.s.OwnerId != e.OwnerId || s.s.AvailabilityZoneId != e.AvailabilityZoneId || s.s.AvailabilityZone != e.AvailabilityZone {
			t.Fatalf("ENI %s disagrees with its subnet %+v", id, s.s)
		}
		if o, ok := vpcOwner[e.VpcId]; ok && o != e.OwnerId {
			t.Fatalf("VPC %s has two owners", e.VpcId)
		}
		vpcOwner[e.VpcId] = e.OwnerId
		for i, a := range e.PrivateIpAddresses {
			if !s.v4.Contains(netip.MustParseAddr(a.PrivateIpAddress)) {
				t.Fatalf("ENI %s: %s outside %s", id, a.PrivateIpAddress, s.v4)
			}
			if a.Primary != (i == 0) || i == 0 && a.PrivateIpAddress != e.PrivateIpAddress {
				t.Fatalf("ENI %s: bad primary address", id)
			}
		}
		for _, a := range e.Ipv6Addresses {
			if !s.v6.Contains(netip.MustParseAddr(a.Ipv6Address)) {
				t.Fatalf("ENI %s: %s outside %s", id, a.Ipv6Address, s.v6)
			}
		}
		var name, team bool
		for _, tag := range e.TagSet {
			name = name || tag.Key == "Name" && tag.Value != ""
			team = team || tag.Key == "team" && tag.Value != ""
		}
		if !name || !team || len(e.Groups) == 0 || e.Attachment == nil {
			t.Fatalf("ENI %s lacks tags, groups or attachment: %+v", id, e)
		}
		switch e.InterfaceType {
		case "natGateway":
			if !e.RequesterManaged || e.instanceID() != "" {
				t.Fatalf("NAT ENI %s: managed %v, instance %q", id, e.RequesterManaged, e.instanceID())
			}
		case "interface":
			if !e.RequesterManaged && !strings.HasPrefix(e.instanceID(), "i-0") {
				t.Fatalf("instance ENI %s without an instance", id)
			}
		}
	}
	for _, k := range []string{"interface", "natGateway", "lambda", "vpc_endpoint"} {
		if kinds[k] == 0 {
			t.Errorf("no %s ENI in the inventory: %v", k, kinds)
		}
	}
	// Every ENI in the records is in the inventory, and every private peer
	// address falls in a subnet of the ENI's account.
	p := schema.NewParser(formatV5, 0)
	var rec schema.Record
	used := map[string]bool{}
	peersFound := 0
	for _, m := range msgs {
		for _, l := range m.lines {
			if err := p.Parse(l.text, &rec); err != nil {
				t.Fatal(err)
			}
			id := string(rec.Str[schema.InterfaceID])
			used[id] = true
			e := enis[id]
			if e == nil {
				t.Fatalf("ENI %s not in the inventory", id)
			}
			if string(m.key) != e.OwnerId+"/"+id {
				t.Fatalf("message key %q for ENI %s", m.key, id)
			}
			for _, fid := range []schema.FieldID{schema.SrcAddr, schema.DstAddr, schema.PktSrcAddr, schema.PktDstAddr} {
				if !rec.IsSet(fid) {
					continue
				}
				a := netip.MustParseAddr(string(rec.Str[fid]))
				if !a.Is4() || !(a.IsPrivate() || netip.MustParsePrefix("100.64.0.0/10").Contains(a)) {
					continue
				}
				found := false
				for _, s := range all {
					if s.v4.Contains(a) && s.s.OwnerId == e.OwnerId {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("%q: %s %s is in no subnet of account %s", l.text, fid, a, e.OwnerId)
				}
				peersFound++
			}
		}
	}
	if len(used) < len(enis)/2 || peersFound == 0 {
		t.Fatalf("records use %d of %d ENIs, %d private addresses", len(used), len(enis), peersFound)
	}
}

// TestDeterminism: a seed fixes every byte; another seed changes them.
func TestDeterminism(t *testing.T) {
	for _, env := range []string{EnvelopeText, EnvelopeGzip, EnvelopeCloudWatch, EnvelopeHeader} {
		t.Run(env, func(t *testing.T) {
			cfg := Config{Records: 3000, LinesPerMsg: 5, Seed: 42, Start: testStart, Envelope: env, BadRatio: 0.05, Format: formatV8}
			g1, m1 := generateAll(t, cfg)
			g2, m2 := generateAll(t, cfg)
			if len(m1) != len(m2) {
				t.Fatalf("%d vs %d messages", len(m1), len(m2))
			}
			for i := range m1 {
				if !bytes.Equal(m1[i].value, m2[i].value) || !bytes.Equal(m1[i].key, m2[i].key) {
					t.Fatalf("message %d differs", i)
				}
			}
			if !bytes.Equal(g1.Inventory(), g2.Inventory()) || !bytes.Equal(g1.Subnets(), g2.Subnets()) {
				t.Fatal("inventory differs")
			}
			cfg.Seed = 43
			_, m3 := generateAll(t, cfg)
			if bytes.Equal(m1[0].value, m3[0].value) {
				t.Fatal("another seed gave the same first message")
			}
		})
	}
}

// TestStats checks the counts against the messages.
func TestStats(t *testing.T) {
	cfg := Config{Records: 10007, LinesPerMsg: 10, Seed: 7, Start: testStart, Hours: 5, BadRatio: 0.03, NoDataRatio: 0.05, SkipDataRatio: 0.01}
	g, msgs := generateAll(t, cfg)
	st := g.Stats()
	p := schema.NewParser(schema.DefaultFormat, 0)
	var rec schema.Record
	perAccount := map[string]int64{}
	perPart := map[schema.PartitionKey]int64{}
	var noData, skip, bytesTotal int64
	enis, _ := decodeInventory(t, g)
	for i, m := range msgs {
		want := cfg.LinesPerMsg
		if i == len(msgs)-1 {
			want = cfg.Records % cfg.LinesPerMsg
		}
		if len(m.lines) != want {
			t.Fatalf("message %d has %d lines, want %d", i, len(m.lines), want)
		}
		bytesTotal += int64(len(m.value))
		for _, l := range m.lines {
			if l.bad != "" {
				continue
			}
			if err := p.Parse(l.text, &rec); err != nil {
				t.Fatal(err)
			}
			acct := string(rec.Str[schema.AccountID])
			e := enis[string(rec.Str[schema.InterfaceID])]
			if string(m.key) != acct+"/"+e.NetworkInterfaceId {
				t.Fatalf("line %q in a message keyed %q", l.text, m.key)
			}
			perAccount[acct]++
			region := e.AvailabilityZone[:len(e.AvailabilityZone)-1]
			perPart[schema.PartitionKey{Account: acct, Region: region, Hour: schema.HourOf(rec.Int[schema.Start])}]++
			switch string(rec.Str[schema.LogStatus]) {
			case "NODATA":
				noData++
			case "SKIPDATA":
				skip++
			}
		}
	}
	if st.Messages != int64(len(msgs)) || st.Bytes != bytesTotal || st.NoData != noData || st.SkipData != skip {
		t.Fatalf("stats %+v; saw %d messages, %d bytes, %d NODATA, %d SKIPDATA", st, len(msgs), bytesTotal, noData, skip)
	}
	if noData == 0 || skip == 0 {
		t.Fatal("no NODATA or SKIPDATA records")
	}
	if len(perAccount) != g.Config().Accounts || len(st.PerAccount) != len(perAccount) {
		t.Fatalf("accounts: %v vs %v", perAccount, st.PerAccount)
	}
	for a, n := range perAccount {
		if st.PerAccount[a] != n {
			t.Fatalf("account %s: stats %d, saw %d", a, st.PerAccount[a], n)
		}
	}
	if len(st.PerPartition) != len(perPart) {
		t.Fatalf("%d partitions in stats, saw %d", len(st.PerPartition), len(perPart))
	}
	for k, n := range perPart {
		if st.PerPartition[k] != n {
			t.Fatalf("partition %+v: stats %d, saw %d", k, st.PerPartition[k], n)
		}
	}
	// Shares that add up to 1 leave no OK record.
	g2, _ := generateAll(t, Config{Records: 1000, Seed: 1, Start: testStart, BadRatio: 0.5, NoDataRatio: 0.3, SkipDataRatio: 0.2})
	if st2 := g2.Stats(); st2.Bad+st2.NoData+st2.SkipData != st2.Records || st2.Bad == 0 || st2.NoData == 0 || st2.SkipData == 0 {
		t.Fatalf("ratios adding up to 1: %+v", st2)
	}
	// Records are spread evenly over the hours, in hour order.
	hours := map[int64]int64{}
	for k, n := range perPart {
		hours[k.Hour] += n
	}
	if len(hours) != cfg.Hours {
		t.Fatalf("records in %d hours, want %d", len(hours), cfg.Hours)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"negative records", Config{Records: -1}},
		{"negative lines", Config{LinesPerMsg: -1}},
		{"too many accounts", Config{Accounts: MaxAccounts + 1}},
		{"too many ENIs", Config{ENIsPerAccount: MaxENIsPerAccount + 1}},
		{"bad region", Config{Regions: []string{"Mars"}}},
		{"repeated region", Config{Regions: []string{"us-east-1", "us-east-1"}}},
		{"negative hours", Config{Hours: -2}},
		{"ratio above 1", Config{IPv6Ratio: 1.5}},
		{"ratios add up past 1", Config{NoDataRatio: 0.6, BadRatio: 0.6}},
		{"unknown envelope", Config{Envelope: "xml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
	g, err := New(Config{Records: 10, Start: time.Date(2024, 1, 1, 5, 42, 0, 0, time.UTC), NoDataRatio: -1, SkipDataRatio: -1, IPv6Ratio: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := g.Config()
	if c.LinesPerMsg != 1 || c.Accounts != 5 || c.ENIsPerAccount != 20 || c.Hours != 3 || len(c.Regions) != 2 ||
		c.Envelope != EnvelopeText || c.Format != schema.DefaultFormat || c.NoDataRatio != 0 || c.IPv6Ratio != 0 ||
		!c.Start.Equal(time.Date(2024, 1, 1, 5, 0, 0, 0, time.UTC)) {
		t.Fatalf("defaults: %+v", c)
	}
	g, err = New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := g.Next(nil); ok {
		t.Fatal("a generator of 0 records produced a message")
	}
	if d := time.Since(g.Config().Start); d < 3*time.Hour || d > 4*time.Hour {
		t.Fatalf("default start %v is not 3 hours back", g.Config().Start)
	}
}

func TestRegionCode(t *testing.T) {
	for in, want := range map[string]string{
		"us-east-1": "use1", "eu-west-1": "euw1", "ap-southeast-2": "apse2", "ap-northeast-1": "apne1",
		"eu-central-1": "euc1", "us-gov-west-1": "usgw1", "sa-east-1": "sae1",
	} {
		if got := regionCode(in); got != want {
			t.Errorf("regionCode(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestLargeTopology builds the largest account allowed and checks that
// every address is a usable host of its subnet and unique.
func TestLargeTopology(t *testing.T) {
	g, err := New(Config{Records: 1, Accounts: 1, ENIsPerAccount: MaxENIsPerAccount, Seed: 3, Start: testStart})
	if err != nil {
		t.Fatal(err)
	}
	enis, subnets := decodeInventory(t, g)
	if len(enis) != MaxENIsPerAccount {
		t.Fatalf("%d ENIs", len(enis))
	}
	cidr := map[string]netip.Prefix{}
	for _, s := range subnets {
		cidr[s.SubnetId] = netip.MustParsePrefix(s.CidrBlock)
	}
	seen := map[string]bool{}
	for _, e := range enis {
		for _, a := range e.PrivateIpAddresses {
			ip := netip.MustParseAddr(a.PrivateIpAddress)
			host := ip.As4()[3]
			if !cidr[e.SubnetId].Contains(ip) || host < 4 || host == 255 || seen[a.PrivateIpAddress] {
				t.Fatalf("ENI %s: address %s in %s reserved, outside or taken", e.NetworkInterfaceId, ip, cidr[e.SubnetId])
			}
			seen[a.PrivateIpAddress] = true
		}
	}
}

// TestKeyBy: keyed by account, every message's key is the account of its
// records; keyed by ENI (the default), `<account>/<interface-id>`. An
// unknown choice is refused.
func TestKeyBy(t *testing.T) {
	for _, keyBy := range []string{"", KeyByENI, KeyByAccount} {
		t.Run(cmp.Or(keyBy, "default"), func(t *testing.T) {
			_, msgs := generateAll(t, Config{Records: 2000, LinesPerMsg: 7, Seed: 3, Start: testStart, KeyBy: keyBy})
			p := schema.NewParser(schema.DefaultFormat, 0)
			var rec schema.Record
			keys := map[string]bool{}
			for _, m := range msgs {
				for _, l := range m.lines {
					if err := p.Parse(l.text, &rec); err != nil {
						t.Fatal(err)
					}
					want := string(rec.Str[schema.AccountID])
					if keyBy != KeyByAccount {
						want += "/" + string(rec.Str[schema.InterfaceID])
					}
					if string(m.key) != want {
						t.Fatalf("message keyed %q holds %q", m.key, l.text)
					}
				}
				keys[string(m.key)] = true
			}
			t.Logf("%d distinct keys", len(keys))
		})
	}
	if _, err := New(Config{Records: 1, KeyBy: "region"}); err == nil {
		t.Fatal("key by region accepted")
	}
}
