// Package archive copies sealed hours of a lake into an archive with the
// same Hive layout and columns, compacted: each manifest revision of the
// lake becomes one Parquet file per (account, region, hour) and layout (or
// several of a target size), sorted by start time with large row groups.
//
// The archive is append-only: a later lake revision (late records) adds a
// file holding only its rows, and a new archive manifest revision lists
// it; nothing is overwritten or deleted, so a bucket with Object Lock in
// compliance mode works. File names are deterministic (hour, lake
// revision, part), so a run killed at any moment and rerun finds what it
// already wrote, checks it, and goes on: every row is in the archive once.
//
// Compaction streams: rows are read in batches, sorted in runs of bounded
// size spilled to local temp files, and the runs are merged (k-way) into
// the output; an hour is never held in memory.
package archive
