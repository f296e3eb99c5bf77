package config

import "testing"

// TestDeploymentConfig keeps the shipped example configuration loadable and
// valid: deployments/ must not drift from the config schema.
func TestDeploymentConfig(t *testing.T) {
	c := Default()
	if err := c.LoadFile("../deployments/flowlake.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Group != "flowlake" || c.Sink.URL != "s3://my-flow-log-lake/vpcflowlogs" || c.Batch.MaxRows != 1_000_000 {
		t.Fatalf("decoded %+v", c)
	}
}
