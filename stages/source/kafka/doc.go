// Package kafka is the Kafka source: it consumes a topic as a member of a
// consumer group with segmentio/kafka-go (imported under its own name,
// kafka, in this package's files). It uses the ConsumerGroup/Generation API
// for assignments and commits, and reads each assigned partition in
// batches over its own connection to the partition leader (the
// per-message Reader path is 15-30x slower). It never commits on its own:
// the handler commits an offset once the data below it is durable.
//
// An Assignment (a partition for one generation) is a source.Stream and
// Source a source.Runner.
package kafka
