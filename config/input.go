package config

import (
	"flag"
	"time"

	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/source/kafka"
)

// Input holds the limits that keep hostile input and hostile environments
// from growing memory without bound or skipping records in silence.
type Input struct {
	// MaxLineBytes caps a line, header lines included.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxDeadLettersPerMessage is how many dead letters a message keeps
	// one by one; the rest become one summary holding the whole message.
	MaxDeadLettersPerMessage int `yaml:"max_dead_letters_per_message"`
	// MaxRecordAhead and MaxRecordBehind bound record times around the
	// processing time (time_out_of_range dead letters outside).
	MaxRecordAhead  time.Duration `yaml:"max_record_ahead"`
	MaxRecordBehind time.Duration `yaml:"max_record_behind"`
	// OnOffsetReset is what a partition whose position is outside its log
	// does: fail (default) or earliest.
	OnOffsetReset string `yaml:"on_offset_reset"`
	// AllowSharedSink lets a second consumer group write the same topic
	// into the same sink prefix (which duplicates rows).
	AllowSharedSink bool `yaml:"allow_shared_sink"`
}

// defaultInput returns the defaults.
func defaultInput() Input {
	return Input{MaxLineBytes: schema.DefaultMaxLineBytes, MaxDeadLettersPerMessage: parse.DefaultMaxDeadPerMessage,
		MaxRecordAhead: parse.DefaultMaxAhead, MaxRecordBehind: parse.DefaultMaxBehind, OnOffsetReset: kafka.ResetFail}
}

// inputFlags binds the Input flags.
func inputFlags(fs *flag.FlagSet, c *Input) {
	fs.IntVar(&c.MaxLineBytes, "max-line-bytes", c.MaxLineBytes, "longest line (header lines included); longer ones are dead letters")
	fs.IntVar(&c.MaxDeadLettersPerMessage, "max-dead-letters-per-message", c.MaxDeadLettersPerMessage, "dead letters a message keeps one by one; the rest become one summary holding the whole message")
	fs.DurationVar(&c.MaxRecordAhead, "max-record-ahead", c.MaxRecordAhead, "records dated further ahead of the processing time are dead letters (time_out_of_range)")
	fs.DurationVar(&c.MaxRecordBehind, "max-record-behind", c.MaxRecordBehind, "records dated further back than this are dead letters (time_out_of_range)")
	fs.StringVar(&c.OnOffsetReset, "on-offset-reset", c.OnOffsetReset, "a partition whose checkpoint is outside its log (records lost, topic re-created): fail or earliest")
	fs.BoolVar(&c.AllowSharedSink, "allow-shared-sink", c.AllowSharedSink, "let another consumer group write this topic into the same sink prefix (duplicates rows)")
}

// validate reports every invalid Input limit under its YAML path.
func (c *Input) validate(v *validator) {
	if c.MaxLineBytes < 64 || c.MaxLineBytes > 64<<20 {
		v.bad("input.max_line_bytes", "%d: want 64 to 67108864", c.MaxLineBytes)
	}
	if c.MaxDeadLettersPerMessage < 1 {
		v.bad("input.max_dead_letters_per_message", "%d: want at least 1", c.MaxDeadLettersPerMessage)
	}
	if c.MaxRecordAhead <= 0 {
		v.bad("input.max_record_ahead", "must be positive")
	}
	if c.MaxRecordBehind <= 0 {
		v.bad("input.max_record_behind", "must be positive")
	}
	switch c.OnOffsetReset {
	case kafka.ResetFail, kafka.ResetEarliest:
	default:
		v.bad("input.on_offset_reset", "%q: want fail or earliest", c.OnOffsetReset)
	}
}
