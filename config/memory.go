package config

// Memory bounds the process's memory.
type Memory struct {
	// Limit is the one memory budget of the whole process: fetched
	// messages, parsed rows waiting to merge, open batches and encoders in
	// flight are counted against it, and the Go runtime's soft memory limit
	// (GOMEMLIMIT) is set to it unless GOMEMLIMIT is set.
	Limit ByteSize `yaml:"limit"`
	// MaxBufferedBytes optionally lowers the share of the limit that open
	// and flushing batches may hold (0: what the limit leaves).
	MaxBufferedBytes ByteSize `yaml:"max_buffered_bytes"`
	// FetchBufferBytes optionally sets the share of the limit that fetched
	// messages not yet merged may hold (0: a quarter of the budget).
	FetchBufferBytes ByteSize `yaml:"fetch_buffer_bytes"`
}

// MinMemoryLimit is the smallest --memory-limit accepted.
const MinMemoryLimit = 32 << 20

// DefaultMemory is the memory defaults: a 256 MiB budget, shared as the
// pipeline decides.
var DefaultMemory = Memory{Limit: 256 << 20}

// validate reports every invalid memory setting under memory.*; buffered
// bytes must hold at least one full batch (batchMaxBytes).
func (m *Memory) validate(v *validator, batchMaxBytes int64) {
	v.check(m.Limit >= MinMemoryLimit, "memory.limit", "must be at least 32MiB")
	v.check(m.MaxBufferedBytes >= 0, "memory.max_buffered_bytes", "must not be negative")
	v.check(m.FetchBufferBytes == 0 || m.FetchBufferBytes >= 64<<10, "memory.fetch_buffer_bytes", "must be 0 (a quarter of the budget) or at least 64KiB")
	if m.MaxBufferedBytes > 0 && int64(m.MaxBufferedBytes) < batchMaxBytes {
		v.bad("memory.max_buffered_bytes", "%d is smaller than batch.max_bytes (%d)", m.MaxBufferedBytes, batchMaxBytes)
	}
}
