package kafka_test

import (
	"testing"

	source "flowlake/stages/source/kafka"
)

// TestParseCheckpointKey: the keys CheckpointKey makes parse back, escaped
// names included; a checkpoint's segments and other keys do not.
func TestParseCheckpointKey(t *testing.T) {
	for _, tc := range []struct {
		group, topic string
		partition    int
	}{{"g", "flows", 0}, {"team/a b", "vpc.flow-logs", 17}, {"%", "t%2F", 3}} {
		key := source.CheckpointKey(tc.group, tc.topic, tc.partition)
		g, topic, p, ok := source.ParseCheckpointKey(key)
		if !ok || g != tc.group || topic != tc.topic || p != tc.partition {
			t.Errorf("ParseCheckpointKey(%q) = %q, %q, %d, %v; want %q, %q, %d", key, g, topic, p, ok, tc.group, tc.topic, tc.partition)
		}
	}
	for _, key := range []string{
		"_flowlake/checkpoints/g/flows/3.segments/0.json",
		"_flowlake/checkpoints/g/flows/x.json",
		"_flowlake/checkpoints/g/flows/3.json.tmp",
		"_flowlake/checkpoints/g/3.json",
		"_flowlake/backfill/bucket/folder/checkpoint.json",
	} {
		if _, _, _, ok := source.ParseCheckpointKey(key); ok {
			t.Errorf("ParseCheckpointKey(%q) accepted", key)
		}
	}
}
