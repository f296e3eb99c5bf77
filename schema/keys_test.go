package schema

import (
	"regexp"
	"testing"
	"time"
)

func TestHiveKeys(t *testing.T) {
	hour := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return HourOf(tm.Unix())
	}
	tests := []struct {
		name   string
		prefix string
		key    PartitionKey
		dir    string
		file   string
	}{
		{"padding", "", PartitionKey{"123456789012", "us-east-1", hour("2024-03-05T07:59:59Z")},
			"AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=03/day=05/hour=07",
			"123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20240305T0700Z_h.log.parquet"},
		{"hour boundary is the next hour", "lake", PartitionKey{"123456789012", "eu-west-1", hour("2024-12-31T23:00:00Z")},
			"lake/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2024/month=12/day=31/hour=23",
			"123456789012_vpcflowlogs_eu-west-1_fl-1234abcd_20241231T2300Z_h.log.parquet"},
		{"year change", "a/b", PartitionKey{"unknown", "ap-southeast-2", hour("2025-01-01T00:00:00Z")},
			"a/b/AWSLogs/aws-account-id=unknown/aws-service=vpcflowlogs/aws-region=ap-southeast-2/year=2025/month=01/day=01/hour=00",
			"unknown_vpcflowlogs_ap-southeast-2_fl-1234abcd_20250101T0000Z_h.log.parquet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HiveDir(tt.prefix, tt.key); got != tt.dir {
				t.Errorf("HiveDir\n got %s\nwant %s", got, tt.dir)
			}
			if got := ObjectName(tt.key, "fl-1234abcd", "h", ".log.parquet"); got != tt.file {
				t.Errorf("ObjectName\n got %s\nwant %s", got, tt.file)
			}
			if got := ObjectKey(tt.prefix, tt.key, "fl-1234abcd", "h"); got != tt.dir+"/"+tt.file {
				t.Errorf("ObjectKey = %s", got)
			}
		})
	}
}

func TestHourOf(t *testing.T) {
	tests := []struct{ in, want int64 }{{0, 0}, {3599, 0}, {3600, 3600}, {1418530010, 1418529600}, {-1, -3600}, {-3600, -3600}}
	for _, tt := range tests {
		if got := HourOf(tt.in); got != tt.want {
			t.Errorf("HourOf(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestBatchHashDeterministic(t *testing.T) {
	a := BatchHash("flows", 3, Pos{Offset: 1000, Line: 2})
	if a != BatchHash("flows", 3, Pos{Offset: 1000, Line: 2}) {
		t.Fatal("hash is not deterministic")
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a) {
		t.Fatalf("hash %q is not 16 hex digits", a)
	}
	seen := map[string]bool{a: true}
	for _, other := range []string{
		BatchHash("flows", 3, Pos{Offset: 1000, Line: 3}),
		BatchHash("flows", 3, Pos{Offset: 1001, Line: 2}),
		BatchHash("flows", 4, Pos{Offset: 1000, Line: 2}),
		BatchHash("flows2", 3, Pos{Offset: 1000, Line: 2}),
	} {
		if seen[other] {
			t.Fatalf("collision: %s", other)
		}
		seen[other] = true
	}
}
