// Package seal decides when an (account, region, hour) of the lake is
// complete and writes its manifest.
//
// Every partition's checkpoint carries an event-time watermark (how far the
// partition's durable records have reached) and the hours it wrote files
// into that no manifest covers yet. An hour is sealed once every partition
// of the topic has a watermark at or past the hour's end plus the allowed
// lateness, or is caught up (its checkpoint covers the partition's end
// offset, so nothing is waiting), and the hour has also ended by that much
// by the topic's newest watermark or by the clock.
//
// Sealing writes `_flowlake_manifest.rev-NNNNNN.json` into the hour's folder
// with a create-only write (S3 `If-None-Match: *`), so when several
// instances decide at once exactly one revision N exists; then it points
// `_flowlake_manifest.json` at it (a copy, replaced with `If-Match`). Late
// files (written after a seal) make revision N+1, which lists them; older
// revisions are never changed.
//
// A file is listed only once its stream's progress record covers its last
// record (before that a replay may rewrite it). The decision holds the
// states of the sealer's own streams; a file of another writer's stream in
// the same folder (a backfill's in an hour `run` writes, or the reverse)
// is final once that stream's own record covers it, which the sealer reads
// with a ForeignFunc per pass (SetForeign). Whether an hour may be sealed stays
// the sealer's own rule.
package seal
