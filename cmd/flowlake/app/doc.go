// Package app assembles flowlake's commands from a validated
// configuration: the process's logger (warnings sampled by message), the
// HTTP endpoint (metrics, probes, profiles), the sink, the dead-letter
// writer, the enricher and its refresh loop, the source, and the pipeline
// that runs them. It runs the side jobs (inventory refresh, HTTP servers)
// beside the pipeline and returns their errors: a failed side job never
// ends in success.
//
// The demo's in-process broker and generator are not here: `flowlake
// demo` starts them in package main and hands this package a configured
// broker address and inventory, so the production `run` path does not
// link them (TestRunPathImports).
package app
