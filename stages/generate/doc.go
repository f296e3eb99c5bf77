// Package generate is flowlake's own generator of realistic VPC flow log
// records. It backs the `flowlake gen` command, the demo, the tests and the
// benchmarks.
//
// A Generator builds a deterministic topology from Config.Seed: accounts,
// 1-3 VPCs per account with /16 CIDRs (and an IPv6 /56), one /24 subnet per
// AZ and tier, and ENIs of several kinds (EC2 instances, NAT gateways, ECS
// tasks, Lambda functions, interface endpoints) with private addresses
// inside their subnets. Records are flows between those ENIs, to and from
// public addresses and to AWS service ranges, rendered in any flow log
// format: every field of the catalogue gets a value consistent with the
// ENI (region, az-id, vpc-id, subnet-id, instance-id, ECS task, next hop).
//
// The same Config (including Seed and Start) always yields the same
// messages, byte for byte. Inventory and Subnets describe the topology as
// describe-network-interfaces and describe-subnets JSON documents, so the
// enrichment stage can be fed the metadata of every ENI the records use.
//
// Records are spread in order over Config.Hours consecutive UTC hours: the
// n-th record starts in hour n*Hours/Records, at a random second of it.
// A share of records are NODATA/SKIPDATA, and with Config.BadRatio a share
// are deliberately malformed; Stats counts them apart, with the rejection
// reason schema.Parser gives for each.
//
// A Generator is not safe for concurrent use.
package generate
