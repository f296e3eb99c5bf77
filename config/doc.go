// Package config loads flowlake's configuration: defaults, then a YAML file
// (strictly decoded), then FLOWLAKE_* environment variables, then command
// line flags, each overriding the one before. Validate checks every field
// and names the offending one.
package config
