// Package pipeline wires flowlake's stages together and owns their
// lifecycle: it consumes a topic as a group member, runs one loop per
// assigned partition (fetch, parse in a shared pool, batch), flushes batches
// in rounds (encode, write, dead letters, checkpoint), and commits a
// partition's offset only after everything below it is durable.
//
// See the README's "Exactly once" section for the invariant and why it holds.
package pipeline
