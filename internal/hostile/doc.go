// Package hostile holds flowlake's hostile-input suite: tests that run the
// flowlake binary against a Kafka-protocol broker and feed it what any
// producer on a shared topic, or a broker that lost its data, can do to it
// (decompression and dead-letter amplification, padded headers, lying
// clocks, a re-created topic, a second consumer group, values shaped like
// paths or escape sequences). Each case asserts the peak RSS of the child
// process, records in = rows + dead letters from both the final log line
// and an independent read of the outputs, the exit code and the message.
package hostile
