package config

import (
	"flag"
	"time"
)

// Seal configures sealing of hours (manifests) by `flowlake run`.
type Seal struct {
	// Enabled turns sealing on (the default).
	Enabled bool `yaml:"enabled"`
	// Lateness is how long after an hour's end, by every partition's
	// event-time watermark, records of the hour are still expected.
	Lateness time.Duration `yaml:"lateness"`
	// Interval is how often a seal pass runs besides after flush rounds.
	Interval time.Duration `yaml:"interval"`
}

// DefaultSeal is the default sealing configuration.
var DefaultSeal = Seal{Enabled: true, Lateness: 15 * time.Minute, Interval: time.Minute}

func sealFlags(fs *flag.FlagSet, c *Config) {
	fs.BoolVar(&c.Seal.Enabled, "seal", c.Seal.Enabled, "seal hours: write _flowlake_manifest.json once every partition passed an hour's end plus --seal-lateness (backfill: once every archive object of its delivery window is durable)")
	fs.DurationVar(&c.Seal.Lateness, "seal-lateness", c.Seal.Lateness, "allowed lateness after an hour's end before the hour is sealed: by event time (run), by the delivery time in archive object names (backfill)")
	fs.DurationVar(&c.Seal.Interval, "seal-interval", c.Seal.Interval, "how often to look for hours to seal besides after flush rounds")
}

// validate reports every invalid seal setting under seal.*.
func (s *Seal) validate(v *validator) {
	v.check(s.Lateness >= 0, "seal.lateness", "must not be negative")
	v.check(s.Interval > 0, "seal.interval", "must be positive")
}
