// Package sink stores finished objects (Parquet files, dead-letter files and
// checkpoint records) durably under a key.
//
// Every implementation honours one contract: when Put returns nil the object
// is durable and complete, and a reader sees either the previous object under
// the key or the whole new one, never a part. Put with the same key and bytes
// twice is harmless: replays overwrite rather than duplicate.
package sink
