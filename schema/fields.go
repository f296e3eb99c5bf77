package schema

// Kind is the Parquet physical type of a column.
type Kind uint8

// Column kinds. Every column is OPTIONAL; strings are BYTE_ARRAY with the
// STRING annotation, as in AWS's own Parquet delivery.
const (
	KindString Kind = iota
	KindInt32
	KindInt64
)

func (k Kind) String() string {
	switch k {
	case KindInt32:
		return "int32"
	case KindInt64:
		return "int64"
	default:
		return "string"
	}
}

// check is the value check a field's text must pass.
type check uint8

const (
	checkNone     check = iota
	checkPort           // 0-65535
	checkProtocol       // 0-255
	checkAddr           // IPv4 or IPv6
	checkAction         // ACCEPT or REJECT
	checkStatus         // OK, NODATA or SKIPDATA
	checkAccount        // 12 digits or "unknown"
	checkRegion         // a region name safe in an object key
	checkUint           // a non-negative integer
)

// FieldID identifies a field of the catalogue. The zero value is the version
// field.
type FieldID uint8

// The flow log fields of versions 2 to 8, the newer fields kept as strings,
// and the enrichment columns flowlake adds.
const (
	Version FieldID = iota
	AccountID
	InterfaceID
	SrcAddr
	DstAddr
	SrcPort
	DstPort
	Protocol
	Packets
	Bytes
	Start
	End
	Action
	LogStatus
	VpcID
	SubnetID
	InstanceID
	TCPFlags
	Type
	PktSrcAddr
	PktDstAddr
	Region
	AzID
	SublocationType
	SublocationID
	PktSrcAWSService
	PktDstAWSService
	FlowDirection
	TrafficPath
	ECSClusterARN
	ECSClusterName
	ECSContainerInstanceARN
	ECSContainerInstanceID
	ECSContainerID
	ECSSecondContainerID
	ECSServiceName
	ECSTaskDefinitionARN
	ECSTaskARN
	ECSTaskID
	RejectReason
	ResourceID
	EncryptionStatus
	InstanceTag
	InstanceTag2
	InterfaceTag
	InterfaceTag2
	AsgTag
	AsgTag2
	InterfaceType
	NextHopInterfaceID
	NextHopSubnetID
	NextHopAzID
	NextHopVpcID
	NextHopInterfaceType

	// NumFlowFields counts the fields a format may name.
	NumFlowFields
)

// Enrichment columns: never in a format, filled from the ENI inventory.
const (
	ENIType FieldID = NumFlowFields + iota
	ENIDescription
	ENISecurityGroupIDs
	PeerSubnetID
	PeerVpcID
	ENITag0
	ENITag1
	ENITag2
	ENITag3
	ENITag4
	ENITag5
	ENITag6
	ENITag7

	// NumFields counts every field, enrichment included.
	NumFields
)

// MaxTagColumns is how many ENI tag keys can become columns.
const MaxTagColumns = 8

// FieldInfo describes one field of the catalogue.
type FieldInfo struct {
	// Token is the field's name in a format (`${token}`) and header line.
	Token string
	// Column is the Parquet and Athena column name.
	Column string
	// Kind is the Parquet physical type.
	Kind Kind
	// Version is the flow log version that introduced the field.
	Version int
	// Newer marks fields after v8 whose types AWS has not published; they are
	// kept as strings and need the newer-fields switch.
	Newer bool
	check check
}

func f(token string, kind Kind, version int, c check) FieldInfo {
	col := []byte(token)
	for i, b := range col {
		if b == '-' {
			col[i] = '_'
		}
	}
	return FieldInfo{Token: token, Column: string(col), Kind: kind, Version: version, check: c}
}

func newer(token string, version int) FieldInfo {
	fi := f(token, KindString, version, checkText)
	fi.Newer = true
	return fi
}

// Fields is the catalogue, indexed by FieldID. Versions, names and types
// follow AWS's table of flow log fields (versions 2 to 8); the same table
// is kept, with its Parquet column names and types, in
// testdata/conformance.json, which the conformance tests check against.
var Fields = [NumFields]FieldInfo{
	Version:                 f("version", KindInt32, 2, checkUint),
	AccountID:               f("account-id", KindString, 2, checkAccount),
	InterfaceID:             f("interface-id", KindString, 2, checkENI),
	SrcAddr:                 f("srcaddr", KindString, 2, checkAddr),
	DstAddr:                 f("dstaddr", KindString, 2, checkAddr),
	SrcPort:                 f("srcport", KindInt32, 2, checkPort),
	DstPort:                 f("dstport", KindInt32, 2, checkPort),
	Protocol:                f("protocol", KindInt32, 2, checkProtocol),
	Packets:                 f("packets", KindInt64, 2, checkUint),
	Bytes:                   f("bytes", KindInt64, 2, checkUint),
	Start:                   f("start", KindInt64, 2, checkUint),
	End:                     f("end", KindInt64, 2, checkUint),
	Action:                  f("action", KindString, 2, checkAction),
	LogStatus:               f("log-status", KindString, 2, checkStatus),
	VpcID:                   f("vpc-id", KindString, 3, checkVPC),
	SubnetID:                f("subnet-id", KindString, 3, checkSubnet),
	InstanceID:              f("instance-id", KindString, 3, checkInstance),
	TCPFlags:                f("tcp-flags", KindInt32, 3, checkUint),
	Type:                    f("type", KindString, 3, checkType),
	PktSrcAddr:              f("pkt-srcaddr", KindString, 3, checkAddr),
	PktDstAddr:              f("pkt-dstaddr", KindString, 3, checkAddr),
	Region:                  f("region", KindString, 4, checkRegion),
	AzID:                    f("az-id", KindString, 4, checkAZ),
	SublocationType:         f("sublocation-type", KindString, 4, checkSublocType),
	SublocationID:           f("sublocation-id", KindString, 4, checkText),
	PktSrcAWSService:        f("pkt-src-aws-service", KindString, 5, checkService),
	PktDstAWSService:        f("pkt-dst-aws-service", KindString, 5, checkService),
	FlowDirection:           f("flow-direction", KindString, 5, checkDirection),
	TrafficPath:             f("traffic-path", KindInt32, 5, checkUint),
	ECSClusterARN:           f("ecs-cluster-arn", KindString, 7, checkText),
	ECSClusterName:          f("ecs-cluster-name", KindString, 7, checkText),
	ECSContainerInstanceARN: f("ecs-container-instance-arn", KindString, 7, checkText),
	ECSContainerInstanceID:  f("ecs-container-instance-id", KindString, 7, checkText),
	ECSContainerID:          f("ecs-container-id", KindString, 7, checkText),
	ECSSecondContainerID:    f("ecs-second-container-id", KindString, 7, checkText),
	ECSServiceName:          f("ecs-service-name", KindString, 7, checkText),
	ECSTaskDefinitionARN:    f("ecs-task-definition-arn", KindString, 7, checkText),
	ECSTaskARN:              f("ecs-task-arn", KindString, 7, checkText),
	ECSTaskID:               f("ecs-task-id", KindString, 7, checkText),
	RejectReason:            f("reject-reason", KindString, 8, checkText),
	ResourceID:              newer("resource-id", 10),
	EncryptionStatus:        newer("encryption-status", 10),
	InstanceTag:             newer("instance-tag", 11),
	InstanceTag2:            newer("instance-tag-2", 11),
	InterfaceTag:            newer("interface-tag", 11),
	InterfaceTag2:           newer("interface-tag-2", 11),
	AsgTag:                  newer("asg-tag", 11),
	AsgTag2:                 newer("asg-tag-2", 11),
	InterfaceType:           newer("interface-type", 11),
	NextHopInterfaceID:      newer("next-hop-interface-id", 11),
	NextHopSubnetID:         newer("next-hop-subnet-id", 11),
	NextHopAzID:             newer("next-hop-az-id", 11),
	NextHopVpcID:            newer("next-hop-vpc-id", 11),
	NextHopInterfaceType:    newer("next-hop-interface-type", 11),

	ENIType:             {Column: "eni_interface_type", Kind: KindString},
	ENIDescription:      {Column: "eni_description", Kind: KindString},
	ENISecurityGroupIDs: {Column: "eni_security_group_ids", Kind: KindString},
	PeerSubnetID:        {Column: "peer_subnet_id", Kind: KindString},
	PeerVpcID:           {Column: "peer_vpc_id", Kind: KindString},
	ENITag0:             {Column: "eni_tag_0", Kind: KindString},
	ENITag1:             {Column: "eni_tag_1", Kind: KindString},
	ENITag2:             {Column: "eni_tag_2", Kind: KindString},
	ENITag3:             {Column: "eni_tag_3", Kind: KindString},
	ENITag4:             {Column: "eni_tag_4", Kind: KindString},
	ENITag5:             {Column: "eni_tag_5", Kind: KindString},
	ENITag6:             {Column: "eni_tag_6", Kind: KindString},
	ENITag7:             {Column: "eni_tag_7", Kind: KindString},
}

var byToken = func() map[string]FieldID {
	m := make(map[string]FieldID, NumFlowFields)
	for id := FieldID(0); id < NumFlowFields; id++ {
		m[Fields[id].Token] = id
	}
	return m
}()

// Lookup returns the field with the given token (`srcaddr`, `log-status`).
func Lookup(token string) (FieldID, bool) {
	id, ok := byToken[token]
	return id, ok
}

// Info returns the catalogue entry of id.
func (id FieldID) Info() *FieldInfo { return &Fields[id] }

func (id FieldID) String() string {
	if Fields[id].Token != "" {
		return Fields[id].Token
	}
	return Fields[id].Column
}
