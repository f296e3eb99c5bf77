// Package parse turns Kafka messages into rows. A pool of workers takes
// chunks of consecutive messages of one partition, unwraps each message's
// envelope, parses every line with its format, enriches it, and appends it
// to a block per (account, region, hour, layout). Lines that cannot be used
// become dead letters. Chunks finish out of order across workers; callers
// consume the results of a partition in submission order.
//
// Envelopes are detected per message, one for each way flow logs reach
// Kafka: plain text (records separated by "\n" or "\r\n", blank lines
// skipped, an optional header line choosing the format), gzip with any
// number of members, base64 of gzip (the Kinesis and Lambda framing),
// CloudWatch Logs subscription payloads as JSON, gzipped, base64-gzipped or
// wrapped in the Lambda event's {"awslogs":{"data":...}}, and other JSON as
// a log shipper's events (Filebeat, Fluent Bit, Vector), one per line with
// the flow log line in a field. A message that is none of these (corrupt
// gzip, binary data, nothing at all) becomes one bad_envelope dead letter
// holding the whole message. Plain text is parsed in place, without
// allocating per record.
//
// Every record is counted once: Stats.Records == Rows + Dead + Skipped.
package parse
