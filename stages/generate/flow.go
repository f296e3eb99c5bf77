package generate

import (
	"strconv"

	"flowlake/schema"
)

// Log statuses.
const (
	stOK uint8 = iota
	stNoData
	stSkipData
)

// flow is one record before rendering. Byte slices point at ENI data or at
// the generator's scratch buffers.
type flow struct {
	e                *eni
	status           uint8
	v6               bool
	egress           bool
	reject           bool
	bpa              bool
	src, dst         []byte
	pktSrc, pktDst   []byte
	srcPort, dstPort int
	proto            int
	packets, bytes   int64
	start, end       int64
	tcpFlags         int // -1 renders "-"
	path             int // 0 renders "-"
	srcSvc, dstSvc   []byte
	nextHop          *eni
	enc              int // -1 renders "-"
}

// service is a protocol and server port with its typical packet sizes.
type service struct {
	proto        int
	port         int // 0: an ephemeral port on both sides
	reqLo, reqHi int // client->server bytes per packet
	rspLo, rspHi int // server->client bytes per packet
	https        bool
}

var (
	svcHTTPS    = &service{proto: 6, port: 443, reqLo: 52, reqHi: 400, rspLo: 300, rspHi: 1440, https: true}
	svcHTTP     = &service{proto: 6, port: 80, reqLo: 52, reqHi: 350, rspLo: 200, rspHi: 1400}
	svcSSH      = &service{proto: 6, port: 22, reqLo: 52, reqHi: 120, rspLo: 52, rspHi: 300, https: true}
	svcDNS      = &service{proto: 17, port: 53, reqLo: 60, reqHi: 90, rspLo: 80, rspHi: 480}
	svcNTP      = &service{proto: 17, port: 123, reqLo: 76, reqHi: 76, rspLo: 76, rspHi: 76}
	svcMySQL    = &service{proto: 6, port: 3306, reqLo: 60, reqHi: 500, rspLo: 100, rspHi: 1400}
	svcPostgres = &service{proto: 6, port: 5432, reqLo: 60, reqHi: 500, rspLo: 100, rspHi: 1400, https: true}
	svcRedis    = &service{proto: 6, port: 6379, reqLo: 52, reqHi: 200, rspLo: 52, rspHi: 900}
	svcKafka    = &service{proto: 6, port: 9092, reqLo: 200, reqHi: 1400, rspLo: 52, rspHi: 400}
	svcApp      = &service{proto: 6, port: 8080, reqLo: 52, reqHi: 600, rspLo: 100, rspHi: 1400}
	svcICMP     = &service{proto: 1, reqLo: 84, reqHi: 84, rspLo: 84, rspHi: 84}
	svcHighTCP  = &service{proto: 6, reqLo: 52, reqHi: 1400, rspLo: 52, rspHi: 1400}
	// svcScan is unsolicited traffic from the internet, mostly rejected.
	svcScan = &service{proto: 6, reqLo: 40, reqHi: 60, rspLo: 40, rspHi: 60}
)

var scanPorts = []int{22, 22, 22, 23, 3389, 3389, 445, 1433, 5900, 8080, 6379, 9200, 2375, 80, 443}

// peerKind says where the other end of a flow is.
type peerKind uint8

const (
	peerVPC      peerKind = iota // another ENI of the same VPC
	peerInternet                 // a public address
	peerAWS                      // an AWS service range (S3, DynamoDB, ...)
	peerPeering                  // an ENI of another VPC of the account
	peerResolver                 // a public DNS or NTP server
)

// choice is one kind of flow an ENI of a role takes part in.
type choice struct {
	svc    *service
	server bool // the ENI is the server side
	peer   peerKind
	want   role // preferred role of a VPC peer
}

func c(w int, svc *service, server bool, peer peerKind, want role) weighted[choice] {
	return weighted[choice]{w, choice{svc, server, peer, want}}
}

const anyRole = numRoles

// roleChoices is each role's traffic mix.
var roleChoices = [numRoles]*pick[choice]{
	roleWeb: newPick([]weighted[choice]{
		c(30, svcHTTPS, true, peerInternet, 0), c(8, svcHTTP, true, peerInternet, 0),
		c(12, svcApp, false, peerVPC, roleApp), c(6, svcHTTPS, false, peerAWS, 0),
		c(6, svcHTTPS, false, peerInternet, 0), c(3, svcDNS, false, peerResolver, 0),
		c(2, svcNTP, false, peerResolver, 0), c(8, svcScan, true, peerInternet, 0),
		c(2, svcICMP, true, peerInternet, 0), c(2, svcSSH, true, peerVPC, roleBastion),
	}),
	roleApp: newPick([]weighted[choice]{
		c(20, svcApp, true, peerVPC, roleWeb), c(12, svcPostgres, false, peerVPC, roleDB),
		c(6, svcMySQL, false, peerVPC, roleDB), c(10, svcRedis, false, peerVPC, roleCache),
		c(10, svcHTTPS, false, peerAWS, 0), c(8, svcHTTPS, false, peerInternet, 0),
		c(4, svcKafka, false, peerVPC, roleWorker), c(3, svcHTTPS, false, peerPeering, anyRole),
		c(2, svcDNS, false, peerResolver, 0), c(3, svcSSH, true, peerVPC, roleBastion),
		c(2, svcHighTCP, false, peerVPC, anyRole), c(2, svcICMP, false, peerVPC, anyRole),
	}),
	roleDB: newPick([]weighted[choice]{
		c(35, svcPostgres, true, peerVPC, roleApp), c(20, svcMySQL, true, peerVPC, roleApp),
		c(8, svcHTTPS, false, peerAWS, 0), c(3, svcSSH, true, peerVPC, roleBastion),
		c(3, svcPostgres, true, peerPeering, roleApp), c(2, svcICMP, true, peerVPC, anyRole),
		c(4, svcPostgres, true, peerVPC, roleLambda),
	}),
	roleCache: newPick([]weighted[choice]{
		c(50, svcRedis, true, peerVPC, roleApp), c(8, svcRedis, true, peerVPC, roleECS),
		c(5, svcSSH, true, peerVPC, roleBastion), c(3, svcHTTPS, false, peerAWS, 0),
	}),
	roleBastion: newPick([]weighted[choice]{
		c(25, svcSSH, true, peerInternet, 0), c(20, svcSSH, false, peerVPC, anyRole),
		c(25, svcScan, true, peerInternet, 0), c(5, svcHTTPS, false, peerInternet, 0),
		c(3, svcNTP, false, peerResolver, 0), c(2, svcICMP, true, peerInternet, 0),
	}),
	roleWorker: newPick([]weighted[choice]{
		c(25, svcHTTPS, false, peerAWS, 0), c(15, svcKafka, true, peerVPC, roleApp),
		c(10, svcHTTPS, false, peerInternet, 0), c(8, svcPostgres, false, peerVPC, roleDB),
		c(5, svcRedis, false, peerVPC, roleCache), c(4, svcHTTPS, false, peerPeering, anyRole),
		c(3, svcDNS, false, peerResolver, 0), c(2, svcNTP, false, peerResolver, 0),
		c(3, svcSSH, true, peerVPC, roleBastion), c(3, svcHighTCP, true, peerVPC, anyRole),
	}),
	roleLambda: newPick([]weighted[choice]{
		c(40, svcHTTPS, false, peerAWS, 0), c(20, svcPostgres, false, peerVPC, roleDB),
		c(15, svcHTTPS, false, peerInternet, 0), c(10, svcRedis, false, peerVPC, roleCache),
	}),
	roleEndpoint: newPick([]weighted[choice]{
		c(60, svcHTTPS, true, peerVPC, anyRole), c(3, svcHTTPS, true, peerPeering, anyRole),
	}),
	roleECS: newPick([]weighted[choice]{
		c(30, svcApp, true, peerVPC, roleWeb), c(15, svcHTTPS, false, peerAWS, 0),
		c(10, svcHTTPS, false, peerInternet, 0), c(15, svcRedis, false, peerVPC, roleCache),
		c(15, svcPostgres, false, peerVPC, roleDB), c(5, svcKafka, false, peerVPC, roleWorker),
	}),
	roleNAT: newPick([]weighted[choice]{
		c(70, svcHTTPS, false, peerInternet, 0), c(20, svcHTTP, false, peerInternet, 0),
		c(5, svcNTP, false, peerResolver, 0), c(5, svcHighTCP, false, peerInternet, 0),
	}),
}

// awsRange is an AWS service address block (first two bytes).
type awsRange struct {
	code   []byte
	a, b   byte
	v6a    uint16
	v6b    uint16
	viaGWE bool // reachable through a gateway VPC endpoint
}

var awsRanges = []awsRange{
	{code: []byte("S3"), a: 52, b: 216, v6a: 0x2600, v6b: 0x1fa0, viaGWE: true},
	{code: []byte("S3"), a: 3, b: 5, v6a: 0x2600, v6b: 0x1fa0, viaGWE: true},
	{code: []byte("DYNAMODB"), a: 52, b: 94, v6a: 0x2600, v6b: 0x1f18, viaGWE: true},
	{code: []byte("AMAZON"), a: 54, b: 239, v6a: 0x2600, v6b: 0x1f14},
	{code: []byte("EC2"), a: 54, b: 144, v6a: 0x2600, v6b: 0x1f16},
	{code: []byte("CLOUDFRONT"), a: 13, b: 224, v6a: 0x2600, v6b: 0x9000},
	{code: []byte("API_GATEWAY"), a: 52, b: 95, v6a: 0x2600, v6b: 0x1f11},
	{code: []byte("ROUTE53_HEALTHCHECKS"), a: 54, b: 243, v6a: 0x2600, v6b: 0x1f1c},
}

// publicFirst are first octets of ordinary public IPv4 space.
var publicFirst = []byte{23, 31, 37, 45, 46, 62, 64, 66, 69, 77, 81, 85, 89, 91, 93, 104, 107, 138, 142, 151,
	157, 162, 173, 176, 185, 188, 193, 195, 203, 209, 212, 217}

var resolvers = [][]byte{[]byte("8.8.8.8"), []byte("8.8.4.4"), []byte("1.1.1.1"), []byte("9.9.9.9"), []byte("208.67.222.222")}
var resolvers6 = [][]byte{[]byte("2001:4860:4860::8888"), []byte("2606:4700:4700::1111")}
var ntpServers = [][]byte{[]byte("162.159.200.1"), []byte("216.239.35.0"), []byte("129.6.15.28"), []byte("194.58.202.20")}

var (
	bIPv4    = []byte("IPv4")
	bIPv6    = []byte("IPv6")
	bAccept  = []byte("ACCEPT")
	bReject  = []byte("REJECT")
	bOK      = []byte("OK")
	bNoData  = []byte("NODATA")
	bSkip    = []byte("SKIPDATA")
	bIngress = []byte("ingress")
	bEgress  = []byte("egress")
	bBPA     = []byte("BPA")
)

// appendIPv4 writes a dotted quad.
func appendIPv4(b []byte, a, x, y, z byte) []byte {
	b = strconv.AppendUint(b, uint64(a), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(x), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(y), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(z), 10)
}

// appendIPv6 writes eight non-zero groups: the canonical text form, as no
// group is zero and so nothing is compressed.
func (g *Generator) appendIPv6(b []byte, g0, g1 uint16) []byte {
	b = strconv.AppendUint(b, uint64(g0), 16)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(g1), 16)
	v := g.r.next()
	w := g.r.next()
	for i := 0; i < 6; i++ {
		x := uint16(v)
		if i >= 3 {
			x = uint16(w)
			w >>= 16
		} else {
			v >>= 16
		}
		if x == 0 {
			x = 1
		}
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(x), 16)
	}
	return b
}

// publicAddr writes a random public address into g.peerA.
func (g *Generator) publicAddr(v6 bool) []byte {
	if v6 {
		return g.appendIPv6(g.peerA[:0], 0x2000|uint16(g.r.intn(0x1000)), uint16(g.r.next()))
	}
	x := g.r.next()
	return appendIPv4(g.peerA[:0], publicFirst[int(x&0xff)%len(publicFirst)], byte(x>>8), byte(x>>16), byte(1+(x>>24)%254))
}

func (g *Generator) awsAddr(v6 bool) ([]byte, *awsRange) {
	rg := &awsRanges[g.r.intn(len(awsRanges))]
	if v6 {
		return g.appendIPv6(g.peerA[:0], rg.v6a, rg.v6b), rg
	}
	x := g.r.next()
	return appendIPv4(g.peerA[:0], rg.a, rg.b, byte(x), byte(1+(x>>8)%254)), rg
}

// vpcPeer picks another ENI of vp, preferring role want.
func (g *Generator) vpcPeer(vp *vpc, self *eni, want role, v6 bool) *eni {
	var list []*eni
	if want < numRoles {
		list = vp.byRole[want]
	}
	if len(list) == 0 || (len(list) == 1 && list[0] == self) {
		list = vp.enis
	}
	for try := 0; try < 4; try++ {
		p := list[g.r.intn(len(list))]
		if p != self && (!v6 || p.ip6Text != nil) {
			return p
		}
	}
	return nil
}

// ownAddr is the address the ENI shows: srcaddr/dstaddr always carry the
// primary private address, pkt-* the secondary one when the flow uses it.
func (g *Generator) ownAddr(e *eni, v6 bool) (rec, pkt []byte) {
	if v6 {
		return e.ip6Text, e.ip6Text
	}
	if len(e.secondary) > 0 && g.r.pct(25) {
		return e.ip4Text, e.secondary[g.r.intn(len(e.secondary))]
	}
	return e.ip4Text, e.ip4Text
}

// peerAddr is the address an ENI peer uses (its primary, or IPv6).
func peerAddr(p *eni, v6 bool) []byte {
	if v6 {
		return p.ip6Text
	}
	return p.ip4Text
}

// ephemeral returns a client port.
func (g *Generator) ephemeral() int {
	if g.r.pct(80) {
		return g.r.between(32768, 60999)
	}
	return g.r.between(1024, 65535)
}

// flow fills f with an OK record for ENI e starting in the hour at base.
func (g *Generator) flow(f *flow, e *eni, base int64) {
	f.e = e
	f.status = stOK
	f.tcpFlags = -1
	f.enc = -1
	f.v6 = g.r.next() < g.v6T && e.ip6Text != nil
	ch := roleChoices[e.role].get(&g.r)
	s := ch.svc
	peer := ch.peer
	// A private subnet has no inbound internet path; a VPC without a NAT
	// gateway has no outbound one either: such flows go to AWS instead.
	if !e.sub.public {
		if peer == peerInternet && ch.server {
			peer, s = peerVPC, svcApp
		}
		if (peer == peerInternet || peer == peerResolver) && e.vpc.nat == nil {
			peer = peerAWS
		}
	}
	if peer == peerPeering && len(e.acct.vpcs) < 2 {
		peer = peerVPC
	}
	if e.role == roleNAT {
		f.v6 = false
	}
	if f.v6 && peer == peerResolver && s != svcDNS {
		peer = peerInternet
	}

	// Ports and protocol.
	f.proto = s.proto
	if f.v6 && s.proto == 1 {
		f.proto = 58
	}
	svcPort := s.port
	if s == svcScan {
		svcPort = scanPorts[g.r.intn(len(scanPorts))]
	} else if svcPort == 0 && s.proto != 1 {
		svcPort = g.r.between(1024, 65535)
	}
	cliPort := g.ephemeral()
	if s.proto == 1 {
		svcPort, cliPort = 0, 0
	}
	if s == svcNTP && g.r.pct(50) {
		cliPort = 123
	}

	// The peer's address and AWS service code.
	var peerRec []byte
	var peerENI *eni
	var aws *awsRange
	switch peer {
	case peerVPC, peerPeering:
		vp := e.vpc
		if peer == peerPeering {
			others := e.acct.vpcs
			vp = others[g.r.intn(len(others))]
			if vp == e.vpc {
				vp = others[(indexOf(others, vp)+1)%len(others)]
			}
		}
		peerENI = g.vpcPeer(vp, e, ch.want, f.v6)
		if peerENI == nil {
			peerRec = g.publicAddr(f.v6)
			peer = peerInternet
		} else {
			peerRec = peerAddr(peerENI, f.v6)
		}
	case peerAWS:
		peerRec, aws = g.awsAddr(f.v6)
	case peerResolver:
		switch {
		case s == svcDNS && f.v6:
			peerRec = resolvers6[g.r.intn(len(resolvers6))]
		case s == svcDNS:
			peerRec = resolvers[g.r.intn(len(resolvers))]
		default:
			peerRec = ntpServers[g.r.intn(len(ntpServers))]
		}
	default:
		peerRec = g.publicAddr(f.v6)
	}

	// Direction: which end sends the packets this record counts.
	toServer := g.r.pct(50)
	if s == svcScan {
		toServer = true
	}
	f.egress = toServer != ch.server // the ENI sends to the server, or is the server answering
	ownRec, ownPkt := g.ownAddr(e, f.v6)
	if f.egress {
		f.src, f.dst, f.pktSrc, f.pktDst = ownRec, peerRec, ownPkt, peerRec
	} else {
		f.src, f.dst, f.pktSrc, f.pktDst = peerRec, ownRec, peerRec, ownPkt
	}
	if toServer {
		f.srcPort, f.dstPort = cliPort, svcPort
	} else {
		f.srcPort, f.dstPort = svcPort, cliPort
	}
	if aws != nil {
		if f.egress {
			f.dstSvc = aws.code
		} else {
			f.srcSvc = aws.code
		}
	}

	// NAT gateways translate: their records show both legs of a
	// connection, with pkt-* keeping the far end (as AWS documents pkt-srcaddr).
	if e.role == roleNAT && g.r.pct(50) {
		want := roleApp
		if g.r.pct(40) {
			want = roleWorker
		}
		if inside := g.vpcPeer(e.vpc, e, want, false); inside != nil {
			in := inside.ip4Text
			if g.r.pct(50) { // NAT -> instance: the reply from peer
				f.src, f.dst, f.pktSrc, f.pktDst = e.ip4Text, in, peerRec, in
				f.srcPort, f.dstPort = svcPort, cliPort
				f.egress, toServer = true, false
			} else { // instance -> NAT, bound for peer
				f.src, f.dst, f.pktSrc, f.pktDst = in, e.ip4Text, in, peerRec
				f.srcPort, f.dstPort = cliPort, svcPort
				f.egress, toServer = false, true
			}
			peerENI, peer = inside, peerVPC
		}
	}

	// Action.
	switch {
	case s == svcScan:
		f.reject = !g.r.pct(4)
		f.bpa = f.reject && g.r.pct(3)
	case !f.egress && peer == peerInternet:
		f.reject = g.r.pct(3)
	default:
		f.reject = g.r.intn(1000) < 5
	}

	// Packets and bytes.
	lo, hi := s.reqLo, s.reqHi
	if !toServer {
		lo, hi = s.rspLo, s.rspHi
	}
	if f.v6 {
		lo, hi = lo+20, hi+20
	}
	switch {
	case f.reject:
		f.packets = int64(1 + g.r.intn(3))
	case s == svcICMP || s == svcNTP:
		f.packets = int64(1 + g.r.intn(8))
	default:
		switch k := g.r.intn(100); {
		case k < 55:
			f.packets = int64(1 + g.r.intn(20))
		case k < 90:
			f.packets = int64(20 + g.r.intn(1000))
		case k < 99:
			f.packets = int64(1000 + g.r.intn(50000))
		default:
			f.packets = int64(50000 + g.r.intn(2000000))
		}
	}
	f.bytes = f.packets * int64(g.r.between(lo, hi))

	// Times: within the hour; most windows are Nitro's 60 s, some 600 s.
	f.start = base + int64(g.r.intn(3600))
	if f.packets <= 20 || g.r.pct(70) {
		f.end = f.start + int64(g.r.intn(61))
	} else {
		f.end = f.start + int64(g.r.intn(601))
	}

	// TCP flags, OR-ed over the window.
	switch {
	case f.proto != 6:
		f.tcpFlags = 0
	case f.reject:
		f.tcpFlags = 2
	default:
		k := g.r.intn(100)
		syn := 2
		if !toServer {
			syn = 18
		}
		switch {
		case k < 20:
			f.tcpFlags = syn
		case k < 45:
			f.tcpFlags = syn | 1
		case k < 60:
			f.tcpFlags = 1
		case k < 95:
			f.tcpFlags = 0
		default:
			f.tcpFlags = 4
		}
	}

	// traffic-path (egress only) and next hop.
	if f.egress {
		switch peer {
		case peerVPC:
			f.path = 1
		case peerPeering:
			f.path = 4
			if peerENI.vpc.region != e.vpc.region {
				f.path = 5
			}
		default:
			switch {
			case !e.sub.public && !(aws != nil && aws.viaGWE):
				f.path, f.nextHop = 1, e.vpc.nat // through the NAT gateway
			case aws != nil && aws.viaGWE && e.nitro:
				f.path = 7
			case e.nitro:
				f.path = 8
			default:
				f.path = 2
			}
		}
	}

	// encryption-status: 1 Nitro-encrypted inside the VPC, 2 application
	// encrypted, 3 both; "-" sometimes.
	if !g.r.pct(10) {
		f.enc = 0
		if s.https {
			f.enc |= 2
		}
		if peer == peerVPC && e.nitro && peerENI != nil && peerENI.nitro {
			f.enc |= 1
		}
	}
}

func indexOf(list []*vpc, v *vpc) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return 0
}

func appendOr(b, v []byte) []byte {
	if v == nil {
		return append(b, '-')
	}
	return append(b, v...)
}

// noDataFields are the fields a NODATA/SKIPDATA record fills.
var noDataFields = func() (m [schema.NumFlowFields]bool) {
	for _, id := range []schema.FieldID{schema.Version, schema.AccountID, schema.InterfaceID, schema.Start, schema.End, schema.LogStatus} {
		m[id] = true
	}
	return m
}()

// render appends f as a line of g's format.
func (g *Generator) render(b []byte, f *flow) []byte {
	e := f.e
	for i, id := range g.fields {
		if i > 0 {
			b = append(b, ' ')
		}
		if f.status != stOK && !noDataFields[id] {
			b = append(b, '-')
			continue
		}
		switch id {
		case schema.Version:
			b = strconv.AppendInt(b, int64(g.version), 10)
		case schema.AccountID:
			b = append(b, e.acctID...)
		case schema.InterfaceID:
			b = append(b, e.id...)
		case schema.SrcAddr:
			b = append(b, f.src...)
		case schema.DstAddr:
			b = append(b, f.dst...)
		case schema.SrcPort:
			b = strconv.AppendInt(b, int64(f.srcPort), 10)
		case schema.DstPort:
			b = strconv.AppendInt(b, int64(f.dstPort), 10)
		case schema.Protocol:
			b = strconv.AppendInt(b, int64(f.proto), 10)
		case schema.Packets:
			b = strconv.AppendInt(b, f.packets, 10)
		case schema.Bytes:
			b = strconv.AppendInt(b, f.bytes, 10)
		case schema.Start:
			b = strconv.AppendInt(b, f.start, 10)
		case schema.End:
			b = strconv.AppendInt(b, f.end, 10)
		case schema.Action:
			if f.reject {
				b = append(b, bReject...)
			} else {
				b = append(b, bAccept...)
			}
		case schema.LogStatus:
			switch f.status {
			case stNoData:
				b = append(b, bNoData...)
			case stSkipData:
				b = append(b, bSkip...)
			default:
				b = append(b, bOK...)
			}
		case schema.VpcID:
			b = append(b, e.vpc.id...)
		case schema.SubnetID:
			b = append(b, e.sub.id...)
		case schema.InstanceID:
			b = appendOr(b, e.instanceID)
		case schema.TCPFlags:
			b = appendInt(b, f.tcpFlags, -1)
		case schema.Type:
			if f.v6 {
				b = append(b, bIPv6...)
			} else {
				b = append(b, bIPv4...)
			}
		case schema.PktSrcAddr:
			b = append(b, f.pktSrc...)
		case schema.PktDstAddr:
			b = append(b, f.pktDst...)
		case schema.Region:
			b = append(b, e.vpc.region.name...)
		case schema.AzID:
			b = append(b, e.vpc.azIDs[e.sub.az]...)
		case schema.PktSrcAWSService:
			b = appendOr(b, f.srcSvc)
		case schema.PktDstAWSService:
			b = appendOr(b, f.dstSvc)
		case schema.FlowDirection:
			if f.egress {
				b = append(b, bEgress...)
			} else {
				b = append(b, bIngress...)
			}
		case schema.TrafficPath:
			b = appendInt(b, f.path, 0)
		case schema.RejectReason:
			if f.bpa {
				b = append(b, bBPA...)
			} else {
				b = append(b, '-')
			}
		case schema.ECSClusterARN, schema.ECSClusterName, schema.ECSContainerInstanceARN,
			schema.ECSContainerInstanceID, schema.ECSContainerID, schema.ECSSecondContainerID,
			schema.ECSServiceName, schema.ECSTaskDefinitionARN, schema.ECSTaskARN, schema.ECSTaskID:
			b = appendECS(b, e.ecs, id)
		case schema.ResourceID:
			b = appendOr(b, e.resourceID)
		case schema.EncryptionStatus:
			b = appendInt(b, f.enc, -1)
		case schema.InstanceTag:
			if e.instanceID != nil {
				b = append(b, e.name...)
			} else {
				b = append(b, '-')
			}
		case schema.InstanceTag2:
			if e.instanceID != nil {
				b = append(b, e.team...)
			} else {
				b = append(b, '-')
			}
		case schema.InterfaceTag:
			b = append(b, e.name...)
		case schema.InterfaceTag2:
			b = append(b, e.team...)
		case schema.AsgTag:
			b = appendOr(b, e.asg)
		case schema.AsgTag2:
			if e.asg != nil {
				b = append(b, e.team...)
			} else {
				b = append(b, '-')
			}
		case schema.InterfaceType:
			b = append(b, e.ifType...)
		case schema.NextHopInterfaceID, schema.NextHopSubnetID, schema.NextHopAzID,
			schema.NextHopVpcID, schema.NextHopInterfaceType:
			b = appendNextHop(b, f.nextHop, id)
		default: // sublocation-type, sublocation-id: not in a sublocation
			b = append(b, '-')
		}
	}
	return b
}

// appendInt writes v, or "-" when v is the null value.
func appendInt(b []byte, v, null int) []byte {
	if v == null {
		return append(b, '-')
	}
	return strconv.AppendInt(b, int64(v), 10)
}

func appendECS(b []byte, t *ecsTask, id schema.FieldID) []byte {
	if t == nil {
		return append(b, '-')
	}
	switch id {
	case schema.ECSClusterARN:
		return append(b, t.clusterARN...)
	case schema.ECSClusterName:
		return append(b, t.clusterName...)
	case schema.ECSContainerInstanceARN:
		return append(b, t.containerInstanceARN...)
	case schema.ECSContainerInstanceID:
		return append(b, t.containerInstance...)
	case schema.ECSContainerID:
		return append(b, t.containerID...)
	case schema.ECSSecondContainerID:
		return append(b, t.secondContainerID...)
	case schema.ECSServiceName:
		return append(b, t.serviceName...)
	case schema.ECSTaskDefinitionARN:
		return append(b, t.taskDefinitionARN...)
	case schema.ECSTaskARN:
		return append(b, t.taskARN...)
	default:
		return append(b, t.taskID...)
	}
}

func appendNextHop(b []byte, n *eni, id schema.FieldID) []byte {
	if n == nil {
		return append(b, '-')
	}
	switch id {
	case schema.NextHopInterfaceID:
		return append(b, n.id...)
	case schema.NextHopSubnetID:
		return append(b, n.sub.id...)
	case schema.NextHopAzID:
		return append(b, n.vpc.azIDs[n.sub.az]...)
	case schema.NextHopVpcID:
		return append(b, n.vpc.id...)
	default:
		return append(b, n.ifType...)
	}
}
