package config

import (
	"flowlake/stages/batch"
	"flowlake/stages/encode"
)

// validateBatch reports every invalid batch limit under batch.* (the
// defaults are batch.Defaults).
func validateBatch(v *validator, b *batch.Config) {
	v.check(b.MaxRows > 0, "batch.max_rows", "must be positive")
	v.check(b.MaxBytes > 0, "batch.max_bytes", "must be positive")
	v.check(b.MaxAge > 0, "batch.max_age", "must be positive")
	v.check(b.Grace >= 0, "batch.grace", "must not be negative")
	v.check(b.MaxDeadLetters > 0, "batch.max_dead_letters", "must be positive")
}

// validateParquet reports every invalid Parquet setting under parquet.*.
func validateParquet(v *validator, p *encode.Config) {
	v.oneOf(p.Codec, "parquet.codec", "zstd", "snappy", "gzip", "none")
	if p.ZstdLevel != "" { // unset: the encoder's default
		v.oneOf(p.ZstdLevel, "parquet.zstd_level", encode.ZstdLevels...)
	}
	v.check(p.PageBytes >= 0, "parquet.page_bytes", "must not be negative")
}
