// Package parse turns Kafka messages into rows. A pool of workers takes
// chunks of consecutive messages of one partition, unwraps each message's
// envelope (plain text, gzip, CloudWatch Logs subscription payload), parses
// every line with its format, enriches it, and appends it to a block per
// (account, region, hour, layout). Lines that cannot be used become dead
// letters. Chunks finish out of order across workers; callers consume the
// results of a partition in submission order.
package parse
