// Package deadletter keeps every record flowlake could not use, with its
// reason, the raw bytes and where it came from. Dead letters go to JSON Lines
// objects in a sink (a directory or S3), partitioned by date and hour, or to
// a Kafka topic. Objects are named deterministically from the first dead
// letter's position, so a replay overwrites rather than duplicates.
package deadletter
