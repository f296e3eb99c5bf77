// Package exactlyonce holds flowlake's end-to-end exactly-once tests: the
// real flowlake binary, built once per test binary and run as separate
// processes, consumes an in-process Kafka-protocol broker (kfake over TCP)
// and writes to a real S3-compatible server (Versity Gateway) or a local
// directory, while the tests kill it with SIGKILL, stop the S3 server,
// restart the broker, add and remove group members, and point it at a
// missing bucket.
//
// Every test reads every output object back (Parquet through Apache Arrow's
// reader, dead letters as JSON Lines, checkpoints as JSON) and compares the
// multiset of rows and the set of dead letters with what the topic holds:
// no record missing, none twice. The expectation is computed from the
// topic itself, read back after producing, with flowlake's parser as the
// oracle for which lines are bad.
//
// The package has no non-test code. Run it with
//
//	go test ./internal/exactlyonce/ -count=1 -v
//
// BenchmarkSinks compares the S3 and the directory sink on one pre-filled
// topic:
//
//	go test ./internal/exactlyonce/ -run '^$' -bench Sinks -benchtime 1x -v
//
// FLOWLAKE_EXACTLYONCE_SEED overrides the seed of the random kill delays.
package exactlyonce
