// Package pipeline runs flowlake's stages: for every stream a source hands
// it (a Kafka partition, an archive folder) it runs one loop (fetch, parse
// in a shared pool, batch), flushes batches in rounds (the output stage
// writes files, the dead-letter stage the dead letters, then the stream's
// checkpoint), and tells the source a position only after everything below
// it is durable. Its core knows no particular source or output format
// (those are stages). cmd/flowlake/app assembles an application from the
// configuration and hands New its dependencies.
//
// See the README's "Exactly once" section for the invariant and why it holds.
package pipeline
