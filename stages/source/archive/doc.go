// Package archive is the source of `flowlake backfill`: flow log files as
// AWS delivers them to S3 (gzip text with a header line, or plain .log),
// in the default layout
//
//	<prefix>/AWSLogs/<account>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/<file>.log.gz
//
// or the Hive-compatible one
//
//	<prefix>/AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/aws-region=<region>/year=<yyyy>/month=<mm>/day=<dd>/hour=<hh>/<file>.log.gz
//
// Each day folder of one account and region is a stream. Folders are found
// by listing folder names level by level (accounts, regions, years, months,
// days) with a delimiter, so date bounds skip whole years and months
// without listing their objects. A stream's objects are its folder's
// listing in key order, frozen in a manifest in the sink the first time the
// folder is read: positions stay valid across runs even when objects are
// added later (those are appended). A message's offset is
// object index << 32 | line base, and a record's line in its object is
// line base + the line inside the message, so dead letters name the object
// and line, and output names derive from them.
package archive
