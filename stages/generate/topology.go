package generate

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// role is what an ENI does; it decides its traffic mix.
type role uint8

const (
	roleWeb role = iota
	roleApp
	roleDB
	roleCache
	roleBastion
	roleWorker
	roleLambda
	roleEndpoint
	roleECS
	roleNAT
	numRoles
)

var roleNames = [numRoles]string{"web", "app", "db", "cache", "bastion", "worker", "lambda", "vpce", "ecs", "nat"}

// public reports whether the role's ENIs sit in public subnets.
func (r role) public() bool { return r == roleWeb || r == roleBastion || r == roleNAT }

var rolePick = newPick([]weighted[role]{
	{20, roleWeb}, {20, roleApp}, {9, roleDB}, {6, roleCache}, {3, roleBastion},
	{15, roleWorker}, {8, roleLambda}, {5, roleEndpoint}, {14, roleECS},
})

var teams = []string{"payments", "search", "platform", "data", "identity", "checkout", "ml"}

var ecsClusters = []string{"prod", "batch", "edge", "payments", "internal"}

// region is a region with three AZs.
type region struct {
	name      string
	code      string // use1, euw1, apse2
	dnsSuffix string // ec2.internal or <region>.compute.internal
}

type account struct {
	id   string
	idx  int
	vpcs []*vpc
}

type vpc struct {
	id      string
	name    string
	acct    *account
	region  *region
	ar      int      // index of (account, region) for per-partition counts
	oct     [2]byte  // first two octets of the /16
	ip6     [16]byte // /56 prefix
	azNames [3]string
	azIDs   [3]string
	subnets []*subnet
	// open[az][public] is the subnet new ENIs of that AZ and tier go to.
	open      [3][2]*subnet
	nextThird int
	enis      []*eni
	byRole    [numRoles][]*eni
	nat       *eni
	sgs       [numRoles]group
	defaultSG group
	ip6Assoc  string
}

type subnet struct {
	id      string
	vpc     *vpc
	az      int
	third   byte
	public  bool
	index   int // n-th subnet of the VPC, the 8th byte of its IPv6 /64
	next    int // next host octet
	used    int
	assocID string
}

type group struct{ id, name string }

// ecsTask holds the ECS fields of a task ENI, already rendered.
type ecsTask struct {
	clusterARN, clusterName                 []byte
	containerInstanceARN, containerInstance []byte // "-" on Fargate
	containerID, secondContainerID          []byte // second is "-" for one-container tasks
	serviceName                             []byte
	taskDefinitionARN, taskARN, taskID      []byte
	fargate                                 bool
	attachmentID                            string
}

// eni is one network interface with every value a record needs, rendered
// once so the hot path only copies bytes.
type eni struct {
	acct  *account
	vpc   *vpc
	sub   *subnet
	role  role
	nitro bool

	id, acctID, key []byte
	ip4Text         []byte
	secondary       [][]byte // secondary private IPv4 addresses
	ip6Text         []byte   // nil for NAT gateways
	publicIP        string

	instanceID  []byte // nil: "-"
	resourceID  []byte
	ifType      []byte // describe-network-interfaces InterfaceType
	name, team  []byte
	asg         []byte // nil: "-"
	description string
	managed     bool
	requesterID string
	mac         string
	sg          group
	ecs         *ecsTask
	attachID    string
	attachTime  string
}

// regionCode derives an AZ ID prefix from a region name the way AWS does:
// us-east-1 -> use1, ap-southeast-2 -> apse2, us-gov-west-1 -> usgw1.
func regionCode(name string) string {
	parts := strings.Split(name, "-")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1 : len(parts)-1] {
		switch p {
		case "north", "south", "east", "west", "central":
			b.WriteByte(p[0])
		case "northeast", "southeast", "northwest", "southwest":
			b.WriteByte(p[0])
			b.WriteByte(p[5])
		default:
			b.WriteByte(p[0])
		}
	}
	b.WriteString(parts[len(parts)-1])
	return b.String()
}

// vpcBlock returns the first two octets of the k-th VPC /16: 10.0.0.0/8
// first (in a seeded order), then 172.16.0.0/12, then 100.64.0.0/10. Past
// 336 VPCs the blocks repeat, as they do across real accounts.
func vpcBlock(perm []byte, k int) [2]byte {
	k %= 336
	switch {
	case k < 256:
		return [2]byte{10, perm[k]}
	case k < 272:
		return [2]byte{172, byte(16 + k - 256)}
	default:
		return [2]byte{100, byte(64 + k - 272)}
	}
}

// topology is the generated estate.
type topology struct {
	accounts []*account
	regions  []*region
	vpcs     []*vpc
	enis     []*eni
	ars      []arKey // (account, region) pairs, indexed by vpc.ar
	base     time.Time
}

type arKey struct{ account, region string }

func buildTopology(cfg *Config) (*topology, error) {
	r := newRNG(cfg.Seed, 1)
	t := &topology{base: cfg.Start}
	for _, name := range cfg.Regions {
		reg := &region{name: name, code: regionCode(name), dnsSuffix: name + ".compute.internal"}
		if name == "us-east-1" {
			reg.dnsSuffix = "ec2.internal"
		}
		t.regions = append(t.regions, reg)
	}
	perm := make([]byte, 256)
	for i := range perm {
		perm[i] = byte(i)
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	seen := map[string]bool{}
	uniq := func(prefix string) string {
		for {
			id := r.awsID(prefix)
			if !seen[id] {
				seen[id] = true
				return id
			}
		}
	}
	arIndex := map[arKey]int{}
	for a := 0; a < cfg.Accounts; a++ {
		acct := &account{idx: a}
		for {
			acct.id = strconv.Itoa(r.between(1, 9)) + strconv.FormatUint(r.next()%100000000000+100000000000, 10)[1:]
			if !seen[acct.id] {
				seen[acct.id] = true
				break
			}
		}
		t.accounts = append(t.accounts, acct)
		nv := 1 + r.intn(3)
		if nv > cfg.ENIsPerAccount {
			nv = cfg.ENIsPerAccount
		}
		// AZ names map to different AZ IDs in every account, as in AWS.
		rot := map[*region]int{}
		for v := 0; v < nv; v++ {
			reg := t.regions[(a+v)%len(t.regions)]
			if _, ok := rot[reg]; !ok {
				rot[reg] = r.intn(3)
			}
			key := arKey{acct.id, reg.name}
			ar, ok := arIndex[key]
			if !ok {
				ar = len(t.ars)
				arIndex[key] = ar
				t.ars = append(t.ars, key)
			}
			vp := &vpc{
				id:     uniq("vpc"),
				name:   []string{"prod", "staging", "shared"}[v] + "-" + reg.code,
				acct:   acct,
				region: reg,
				ar:     ar,
				oct:    vpcBlock(perm, len(t.vpcs)),
			}
			vp.ip6 = [16]byte{0x26, 0x00, 0x1f, byte(0x10 | r.intn(16)), byte(r.next()), byte(r.next()), byte(r.next())}
			vp.ip6Assoc = uniq("vpc-cidr-assoc")
			for z := 0; z < 3; z++ {
				vp.azNames[z] = reg.name + string(rune('a'+z))
				vp.azIDs[z] = reg.code + "-az" + strconv.Itoa(1+(z+rot[reg])%3)
			}
			for g := role(0); g < numRoles; g++ {
				vp.sgs[g] = group{uniq("sg"), roleNames[g] + "-sg"}
			}
			vp.defaultSG = group{uniq("sg"), "default"}
			acct.vpcs = append(acct.vpcs, vp)
			t.vpcs = append(t.vpcs, vp)
		}
		// One NAT gateway per VPC that has room for it, then the rest.
		n := cfg.ENIsPerAccount
		roles := make([]role, 0, n)
		vpcOf := make([]*vpc, 0, n)
		for _, vp := range acct.vpcs {
			if n >= 4*len(acct.vpcs) {
				roles = append(roles, roleNAT)
				vpcOf = append(vpcOf, vp)
			}
		}
		for i := len(roles); i < n; i++ {
			roles = append(roles, rolePick.get(&r))
			vpcOf = append(vpcOf, acct.vpcs[i%len(acct.vpcs)])
		}
		for i, ro := range roles {
			e, err := t.newENI(cfg, &r, uniq, vpcOf[i], ro, i)
			if err != nil {
				return nil, err
			}
			t.enis = append(t.enis, e)
		}
	}
	return t, nil
}

func (t *topology) subnetFor(r *rng, vp *vpc, az int, public bool, uniq func(string) string) (*subnet, error) {
	tier := 0
	if public {
		tier = 1
	}
	// An ENI takes up to three addresses, each up to 3 above the last.
	if s := vp.open[az][tier]; s != nil && s.next+6 <= 254 {
		return s, nil
	}
	if vp.nextThird > 255 {
		return nil, fmt.Errorf("vpc %s: no room for another /24 subnet", vp.id)
	}
	third := vp.nextThird
	vp.nextThird++
	s := &subnet{
		id:      uniq("subnet"),
		vpc:     vp,
		az:      az,
		third:   byte(third),
		public:  public,
		index:   len(vp.subnets),
		next:    4 + r.intn(20),
		assocID: uniq("subnet-cidr-assoc"),
	}
	vp.subnets = append(vp.subnets, s)
	vp.open[az][tier] = s
	return s, nil
}

func (s *subnet) cidr() string {
	return fmt.Sprintf("%d.%d.%d.0/24", s.vpc.oct[0], s.vpc.oct[1], s.third)
}

func (s *subnet) ip6Prefix() netip.Prefix {
	a := s.vpc.ip6
	a[7] = byte(s.index)
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

func (s *subnet) alloc(r *rng) netip.Addr {
	host := s.next
	s.next += 1 + r.intn(3)
	s.used++
	return netip.AddrFrom4([4]byte{s.vpc.oct[0], s.vpc.oct[1], s.third, byte(host)})
}

func (t *topology) newENI(cfg *Config, r *rng, uniq func(string) string, vp *vpc, ro role, n int) (*eni, error) {
	az := r.intn(3)
	if ro == roleNAT {
		az = 0
	}
	sub, err := t.subnetFor(r, vp, az, ro.public(), uniq)
	if err != nil {
		return nil, err
	}
	e := &eni{
		acct:   vp.acct,
		vpc:    vp,
		sub:    sub,
		role:   ro,
		nitro:  r.pct(75),
		acctID: []byte(vp.acct.id),
		team:   []byte(teams[r.intn(len(teams))]),
		sg:     vp.sgs[ro],
		mac:    fmt.Sprintf("0%c:%02x:%02x:%02x:%02x:%02x", "26ae"[r.intn(4)], byte(r.next()), byte(r.next()), byte(r.next()), byte(r.next()), byte(r.next())),
	}
	id := uniq("eni")
	e.id = []byte(id)
	e.key = []byte(vp.acct.id + "/" + id)
	e.name = []byte(roleNames[ro] + "-" + strconv.Itoa(len(vp.byRole[ro])+1))
	e.ip4Text = []byte(sub.alloc(r).String())
	if ro != roleNAT && ro != roleLambda && ro != roleEndpoint && r.pct(20) {
		for k := r.between(1, 2); k > 0; k-- {
			e.secondary = append(e.secondary, []byte(sub.alloc(r).String()))
		}
	}
	if ro != roleNAT {
		a := sub.vpc.ip6
		a[7] = byte(sub.index)
		for i := 8; i < 16; i++ {
			a[i] = byte(r.next())
		}
		e.ip6Text = []byte(netip.AddrFrom16(a).String())
	}
	if sub.public {
		e.publicIP = netip.AddrFrom4([4]byte{[]byte{3, 18, 34, 44, 52, 54}[r.intn(6)], byte(r.next()), byte(r.next()), byte(r.between(1, 254))}).String()
	}
	e.attachID = uniq("eni-attach")
	e.attachTime = t.base.Add(-time.Duration(r.between(24, 24*400)) * time.Hour).Add(time.Duration(r.intn(3600)) * time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
	e.ifType = []byte("interface")
	switch ro {
	case roleNAT:
		nat := uniq("nat")
		e.ifType = []byte("natGateway")
		e.managed = true
		e.requesterID = "amazon-aws"
		e.resourceID = []byte(nat)
		e.description = "Interface for NAT Gateway " + nat
		e.name = []byte("nat-" + vp.azNames[az])
		vp.nat = e
	case roleLambda:
		fn := string(e.team) + "-fn-" + strconv.Itoa(n)
		e.ifType = []byte("lambda")
		e.managed = true
		e.requesterID = "AROA" + strings.ToUpper(r.hex(17)) + ":" + fn
		e.description = "AWS Lambda VPC ENI-" + fn + "-" + r.hex(8) + "-" + r.hex(4) + "-" + r.hex(4) + "-" + r.hex(4) + "-" + r.hex(12)
	case roleEndpoint:
		vpce := uniq("vpce")
		e.ifType = []byte("vpc_endpoint")
		e.managed = true
		e.requesterID = "amazon-aws"
		e.resourceID = []byte(vpce)
		e.description = "VPC Endpoint Interface " + vpce
	case roleECS:
		e.ecs = newECSTask(r, vp, e)
		e.managed = true
		e.requesterID = "578734482556"
		e.description = "arn:aws:ecs:" + vp.region.name + ":" + vp.acct.id + ":attachment/" + e.ecs.attachmentID
		if !e.ecs.fargate {
			e.instanceID = []byte(uniq("i"))
		}
		e.resourceID = e.ecs.taskARN
	default:
		e.instanceID = []byte(uniq("i"))
		e.resourceID = e.instanceID
		e.description = "Primary network interface"
		if (ro == roleWeb || ro == roleApp || ro == roleWorker) && r.pct(60) {
			e.asg = []byte("asg-" + roleNames[ro] + "-" + string(e.team))
		}
	}
	vp.enis = append(vp.enis, e)
	vp.byRole[ro] = append(vp.byRole[ro], e)
	return e, nil
}

func newECSTask(r *rng, vp *vpc, e *eni) *ecsTask {
	cluster := ecsClusters[r.intn(len(ecsClusters))] + "-" + vp.region.code
	arn := "arn:aws:ecs:" + vp.region.name + ":" + vp.acct.id + ":"
	family := string(e.team) + "-" + []string{"api", "worker", "frontend", "consumer"}[r.intn(4)]
	taskID := r.hex(32)
	t := &ecsTask{
		clusterARN:        []byte(arn + "cluster/" + cluster),
		clusterName:       []byte(cluster),
		containerID:       []byte(r.hex(64)),
		secondContainerID: []byte("-"),
		serviceName:       []byte("-"),
		taskDefinitionARN: []byte(arn + "task-definition/" + family + ":" + strconv.Itoa(r.between(1, 60))),
		taskARN:           []byte(arn + "task/" + cluster + "/" + taskID),
		taskID:            []byte(taskID),
		fargate:           r.pct(60),
		attachmentID:      r.hex(8) + "-" + r.hex(4) + "-" + r.hex(4) + "-" + r.hex(4) + "-" + r.hex(12),
	}
	if t.fargate {
		t.containerInstanceARN = []byte("-")
		t.containerInstance = []byte("-")
	} else {
		ci := r.hex(32)
		t.containerInstanceARN = []byte(arn + "container-instance/" + cluster + "/" + ci)
		t.containerInstance = []byte(ci)
	}
	if r.pct(40) {
		t.secondContainerID = []byte(r.hex(64))
	}
	if r.pct(80) {
		t.serviceName = []byte(family + "-svc")
	}
	return t
}
