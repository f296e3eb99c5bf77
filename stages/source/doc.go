// Package source consumes a Kafka topic as a member of a consumer group with
// segmentio/kafka-go. It uses the ConsumerGroup/Generation API for
// assignments and commits, and reads each assigned partition in batches over
// its own connection to the partition leader (the per-message Reader path is
// 15-30x slower). It never commits on its own: the handler commits an offset
// once the data below it is durable.
package source
