package config

import (
	"fmt"
	"time"

	"flowlake/schema"
)

// Enrich configures the ENI inventory.
type Enrich struct {
	ENIInventory    []string      `yaml:"eni_inventory"`
	SubnetInventory []string      `yaml:"subnet_inventory"`
	Regions         []string      `yaml:"regions"`
	RoleARNs        []string      `yaml:"role_arns"`
	EC2Endpoint     string        `yaml:"ec2_endpoint"`
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	PollInterval    time.Duration `yaml:"poll_interval"`
	TagKeys         []string      `yaml:"tag_keys"`
}

// Enabled reports whether any inventory source is configured.
func (e Enrich) Enabled() bool { return len(e.ENIInventory) > 0 || len(e.Regions) > 0 }

// DefaultEnrich is the enrichment defaults (no inventory: off).
var DefaultEnrich = Enrich{RefreshInterval: 5 * time.Minute, PollInterval: 10 * time.Second}

// validate reports every invalid enrichment setting under enrich.*.
func (e *Enrich) validate(v *validator) {
	v.check(e.RefreshInterval > 0, "enrich.refresh_interval", "must be positive")
	v.check(e.PollInterval > 0, "enrich.poll_interval", "must be positive")
	v.check(len(e.TagKeys) <= schema.MaxTagColumns, "enrich.tag_keys", fmt.Sprintf("at most %d keys", schema.MaxTagColumns))
	if len(e.RoleARNs) > 0 && len(e.Regions) == 0 {
		v.bad("enrich.role_arns", "needs enrich.regions (--eni-regions): roles are assumed to read the EC2 API")
	}
}
