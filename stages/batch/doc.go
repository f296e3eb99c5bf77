// Package batch keeps the open batches of one Kafka partition, one per
// (account, region, hour, layout), and decides when each must be flushed: on
// a row limit, a byte limit, an age limit, once its hour is over (by the
// partition's record time, plus a grace for late records), or under memory
// pressure. It also tracks the partition's commit position: the lowest
// offset whose records are not all durable yet. It does no I/O.
package batch
