// Package broker runs an in-process Kafka-protocol broker for flowlake's
// embedded demo mode and for tests.
//
// It wraps franz-go's kfake cluster and listens on real TCP ports, so any
// Kafka client (flowlake uses segmentio/kafka-go) talks to it over the wire
// exactly as it would to a real broker: produce, fetch, list offsets,
// classic consumer groups and offset commits all work.
//
// The cluster always persists to a data directory (a temporary one unless
// Config.DataDir names one). That is what lets Restart, and Stop followed by
// Resume, bring the broker back on the same ports with its records,
// topics and committed offsets intact.
//
// What kfake lacks, compared with a real broker: replication, quotas, the
// initial group rebalance delay and transaction markers. For targeted fault
// injection use Cluster and kfake's Fault or ControlKey; both live on one
// cluster instance and are lost on Restart.
package broker
