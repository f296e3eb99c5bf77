// Package enrich holds the ENI inventory that flow log records are joined
// against: which subnet, VPC, availability zone, instance, region, interface
// type, description, security groups and selected tags belong to an
// interface id, and which subnet (and so VPC) contains the other address of a
// flow ("peer attribution", a longest-prefix match over subnet CIDRs).
//
// # Data model
//
// An [Inventory] is immutable once built and safe for concurrent use without
// locks. Its lookups, [Inventory.Interface] and [Inventory.Peer], take byte
// slices that may alias a parse buffer and never allocate: they sit on the hot
// path of the parse workers.
//
// Interfaces are stored compactly, with no per-interface pointers: a
// bucketed cuckoo hash table of 32-byte slots holds each interface id's key
// next to a record of uint32 handles into per-snapshot pools (interned
// strings; interned placement, kind and tag-set tuples; address lists), so
// that a lookup reads two cache lines and finds the record in the one that
// matched. An [Interface] is a small value pointing at that record; its
// accessors decode one field each and return strings that are views of the
// pools. Interface values, the strings they return, and *Subnet values
// belong to the inventory and must not be modified; they stay valid (and
// unchanged) for as long as the caller holds them, even after a newer
// inventory replaced the one they came from.
//
// # Sources
//
// Inventories are built from snapshots of two kinds of source:
//   - JSON files in the shape of `aws ec2 describe-network-interfaces` and
//     `aws ec2 describe-subnets` output (a path may name a directory, whose
//     *.json files are read in name order);
//   - live EC2 DescribeNetworkInterfaces and DescribeSubnets calls, per region
//     and optionally per assumed role.
//
// When an interface or subnet id appears in more than one snapshot, the later
// one wins: files first, then EC2 targets in configuration order.
//
// # Refresh
//
// A [Manager] keeps the current inventory behind an atomic pointer. Its Run
// loop polls the files' names, sizes and modification times and re-reads them
// when anything changed, and re-describes EC2 on an interval. A refresh builds
// a new inventory off to the side and swaps it in; a failed refresh keeps the
// last good inventory, logs the error and counts it.
//
// # Metrics
//
// Registered on the injected prometheus.Registerer:
//   - flowlake_enrich_inventory_interfaces (gauge): interfaces in the current inventory;
//   - flowlake_enrich_inventory_subnets (gauge): subnets in the current inventory;
//   - flowlake_enrich_refreshes_total{source} (counter): successful loads, source "file" or "ec2";
//   - flowlake_enrich_refresh_failures_total{source} (counter): failed loads;
//   - flowlake_enrich_last_refresh_timestamp_seconds (gauge): time of the last successful swap.
package enrich
