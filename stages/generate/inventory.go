package generate

import (
	"encoding/json"
	"strings"
)

// The JSON shapes below follow the EC2 API (describe-network-interfaces,
// describe-subnets) as the AWS CLI prints them.

type tagJSON struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type groupJSON struct {
	GroupID   string `json:"GroupId"`
	GroupName string `json:"GroupName"`
}

type associationJSON struct {
	IPOwnerID     string `json:"IpOwnerId"`
	PublicDNSName string `json:"PublicDnsName,omitempty"`
	PublicIP      string `json:"PublicIp"`
}

type privateIPJSON struct {
	Association      *associationJSON `json:"Association,omitempty"`
	Primary          bool             `json:"Primary"`
	PrivateDNSName   string           `json:"PrivateDnsName"`
	PrivateIPAddress string           `json:"PrivateIpAddress"`
}

type ipv6JSON struct {
	IPv6Address   string `json:"Ipv6Address"`
	IsPrimaryIPv6 bool   `json:"IsPrimaryIpv6"`
}

type attachmentJSON struct {
	AttachTime          string `json:"AttachTime"`
	AttachmentID        string `json:"AttachmentId"`
	DeleteOnTermination bool   `json:"DeleteOnTermination"`
	DeviceIndex         int    `json:"DeviceIndex"`
	NetworkCardIndex    int    `json:"NetworkCardIndex"`
	InstanceID          string `json:"InstanceId,omitempty"`
	InstanceOwnerID     string `json:"InstanceOwnerId"`
	Status              string `json:"Status"`
}

type interfaceJSON struct {
	Association        *associationJSON `json:"Association,omitempty"`
	Attachment         *attachmentJSON  `json:"Attachment,omitempty"`
	AvailabilityZone   string           `json:"AvailabilityZone"`
	AvailabilityZoneID string           `json:"AvailabilityZoneId"`
	Description        string           `json:"Description"`
	Groups             []groupJSON      `json:"Groups"`
	InterfaceType      string           `json:"InterfaceType"`
	IPv6Addresses      []ipv6JSON       `json:"Ipv6Addresses"`
	MacAddress         string           `json:"MacAddress"`
	NetworkInterfaceID string           `json:"NetworkInterfaceId"`
	OwnerID            string           `json:"OwnerId"`
	PrivateDNSName     string           `json:"PrivateDnsName"`
	PrivateIPAddress   string           `json:"PrivateIpAddress"`
	PrivateIPAddresses []privateIPJSON  `json:"PrivateIpAddresses"`
	RequesterID        string           `json:"RequesterId,omitempty"`
	RequesterManaged   bool             `json:"RequesterManaged"`
	SourceDestCheck    bool             `json:"SourceDestCheck"`
	Status             string           `json:"Status"`
	SubnetID           string           `json:"SubnetId"`
	TagSet             []tagJSON        `json:"TagSet"`
	VpcID              string           `json:"VpcId"`
}

type ipv6CidrStateJSON struct {
	State string `json:"State"`
}

type ipv6CidrAssocJSON struct {
	AssociationID      string            `json:"AssociationId"`
	IPv6CidrBlock      string            `json:"Ipv6CidrBlock"`
	IPv6CidrBlockState ipv6CidrStateJSON `json:"Ipv6CidrBlockState"`
}

type subnetJSON struct {
	AvailabilityZone            string              `json:"AvailabilityZone"`
	AvailabilityZoneID          string              `json:"AvailabilityZoneId"`
	AvailableIPAddressCount     int                 `json:"AvailableIpAddressCount"`
	CidrBlock                   string              `json:"CidrBlock"`
	DefaultForAz                bool                `json:"DefaultForAz"`
	MapPublicIPOnLaunch         bool                `json:"MapPublicIpOnLaunch"`
	State                       string              `json:"State"`
	SubnetID                    string              `json:"SubnetId"`
	VpcID                       string              `json:"VpcId"`
	OwnerID                     string              `json:"OwnerId"`
	AssignIPv6AddressOnCreation bool                `json:"AssignIpv6AddressOnCreation"`
	IPv6CidrBlockAssociationSet []ipv6CidrAssocJSON `json:"Ipv6CidrBlockAssociationSet"`
	SubnetArn                   string              `json:"SubnetArn"`
	Tags                        []tagJSON           `json:"Tags"`
}

func (e *eni) dnsName(addr string) string {
	return "ip-" + strings.ReplaceAll(addr, ".", "-") + "." + e.vpc.region.dnsSuffix
}

func (e *eni) inventoryJSON() interfaceJSON {
	vp, sub := e.vpc, e.sub
	j := interfaceJSON{
		AvailabilityZone:   vp.azNames[sub.az],
		AvailabilityZoneID: vp.azIDs[sub.az],
		Description:        e.description,
		Groups:             []groupJSON{{e.sg.id, e.sg.name}},
		InterfaceType:      string(e.ifType),
		IPv6Addresses:      []ipv6JSON{},
		MacAddress:         e.mac,
		NetworkInterfaceID: string(e.id),
		OwnerID:            vp.acct.id,
		PrivateDNSName:     e.dnsName(string(e.ip4Text)),
		PrivateIPAddress:   string(e.ip4Text),
		RequesterID:        e.requesterID,
		RequesterManaged:   e.managed,
		SourceDestCheck:    e.role != roleNAT,
		Status:             "in-use",
		SubnetID:           sub.id,
		TagSet:             []tagJSON{{"Name", string(e.name)}, {"team", string(e.team)}},
		VpcID:              vp.id,
	}
	if e.role != roleNAT && e.role != roleLambda && e.role != roleEndpoint {
		j.Groups = append(j.Groups, groupJSON{vp.defaultSG.id, vp.defaultSG.name})
	}
	if e.asg != nil {
		j.TagSet = append(j.TagSet, tagJSON{"aws:autoscaling:groupName", string(e.asg)})
	}
	if e.ecs != nil {
		j.TagSet = append(j.TagSet, tagJSON{"aws:ecs:clusterName", string(e.ecs.clusterName)})
		if svc := string(e.ecs.serviceName); svc != "-" {
			j.TagSet = append(j.TagSet, tagJSON{"aws:ecs:serviceName", svc})
		}
	}
	var assoc *associationJSON
	if e.publicIP != "" {
		owner := "amazon"
		if e.role == roleNAT {
			owner = vp.acct.id
		}
		assoc = &associationJSON{IPOwnerID: owner, PublicIP: e.publicIP}
		if e.role != roleNAT {
			host := "ec2-" + strings.ReplaceAll(e.publicIP, ".", "-")
			if vp.region.name == "us-east-1" {
				assoc.PublicDNSName = host + ".compute-1.amazonaws.com"
			} else {
				assoc.PublicDNSName = host + "." + vp.region.name + ".compute.amazonaws.com"
			}
		}
		j.Association = assoc
	}
	j.PrivateIPAddresses = append(j.PrivateIPAddresses, privateIPJSON{
		Association: assoc, Primary: true, PrivateDNSName: j.PrivateDNSName, PrivateIPAddress: j.PrivateIPAddress,
	})
	for _, a := range e.secondary {
		j.PrivateIPAddresses = append(j.PrivateIPAddresses, privateIPJSON{
			PrivateDNSName: e.dnsName(string(a)), PrivateIPAddress: string(a),
		})
	}
	if e.ip6Text != nil {
		j.IPv6Addresses = append(j.IPv6Addresses, ipv6JSON{IPv6Address: string(e.ip6Text), IsPrimaryIPv6: false})
	}
	att := &attachmentJSON{
		AttachTime:   e.attachTime,
		AttachmentID: e.attachID,
		Status:       "attached",
	}
	switch {
	case e.role == roleECS && !e.ecs.fargate:
		att.InstanceID, att.InstanceOwnerID, att.DeviceIndex = string(e.instanceID), vp.acct.id, 1
	case e.managed:
		att.AttachmentID = "ela-attach-0" + e.attachID[len("eni-attach-0"):]
		att.InstanceOwnerID, att.DeviceIndex = "amazon-aws", 1
	default:
		att.InstanceID, att.InstanceOwnerID, att.DeleteOnTermination = string(e.instanceID), vp.acct.id, true
	}
	j.Attachment = att
	return j
}

// Inventory returns a describe-network-interfaces document
// ({"NetworkInterfaces":[...]}) with every ENI the generator uses, across
// all accounts and regions.
func (g *Generator) Inventory() []byte {
	doc := struct {
		NetworkInterfaces []interfaceJSON `json:"NetworkInterfaces"`
	}{}
	for _, e := range g.topo.enis {
		doc.NetworkInterfaces = append(doc.NetworkInterfaces, e.inventoryJSON())
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("generate: marshal inventory: " + err.Error()) // plain structs cannot fail
	}
	return b
}

// Subnets returns a describe-subnets document ({"Subnets":[...]}) with every
// subnet of every generated VPC: together they cover every private IPv4 and
// IPv6 address the records use.
func (g *Generator) Subnets() []byte {
	doc := struct {
		Subnets []subnetJSON `json:"Subnets"`
	}{}
	for _, vp := range g.topo.vpcs {
		for _, s := range vp.subnets {
			tier := "private"
			if s.public {
				tier = "public"
			}
			doc.Subnets = append(doc.Subnets, subnetJSON{
				AvailabilityZone:        vp.azNames[s.az],
				AvailabilityZoneID:      vp.azIDs[s.az],
				AvailableIPAddressCount: 251 - s.used,
				CidrBlock:               s.cidr(),
				MapPublicIPOnLaunch:     s.public,
				State:                   "available",
				SubnetID:                s.id,
				VpcID:                   vp.id,
				OwnerID:                 vp.acct.id,
				IPv6CidrBlockAssociationSet: []ipv6CidrAssocJSON{{
					AssociationID:      s.assocID,
					IPv6CidrBlock:      s.ip6Prefix().String(),
					IPv6CidrBlockState: ipv6CidrStateJSON{State: "associated"},
				}},
				SubnetArn: "arn:aws:ec2:" + vp.region.name + ":" + vp.acct.id + ":subnet/" + s.id,
				Tags:      []tagJSON{{"Name", vp.name + "-" + tier + "-" + vp.azNames[s.az][len(vp.azNames[s.az])-1:]}},
			})
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("generate: marshal subnets: " + err.Error())
	}
	return b
}
