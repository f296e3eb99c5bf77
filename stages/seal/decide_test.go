package seal

import (
	"testing"

	"flowlake/schema"
)

func TestDecide(t *testing.T) {
	const h = 1714557600 // 2024-05-01T10:00Z
	const late = 900
	busy := func(p int, wm int64) PartitionState {
		return PartitionState{Partition: p, Found: true, Next: 10, End: 20, Watermark: wm}
	}
	idle := func(p int, wm int64) PartitionState {
		return PartitionState{Partition: p, Found: true, Next: 20, End: 20, Watermark: wm}
	}
	tests := []struct {
		name   string
		states []PartitionState
		now    int64
		sealed []int64 // hour starts that are sealable
		open   []int64 // hour starts that are not
	}{
		{"all past the hour plus lateness", []PartitionState{busy(0, h+3600+late), busy(1, h+3600+late+5)}, h + 3600, []int64{h}, []int64{h + 3600}},
		{"one partition inside the lateness", []PartitionState{busy(0, h+3600+late-1), busy(1, h+7200)}, h + 9000, nil, []int64{h}},
		{"idle caught-up partition does not hold back", []PartitionState{busy(0, h+3600+late), idle(1, h-7200)}, h, []int64{h}, nil},
		{"partition without checkpoint and records holds everything", []PartitionState{busy(0, h+7200), {Partition: 1, End: 5}}, h + 99999, nil, []int64{h - 3600, h}},
		{"empty partition without checkpoint does not", []PartitionState{busy(0, h+3600+late), {Partition: 1}}, h, []int64{h}, nil},
		{"all idle: the clock decides", []PartitionState{idle(0, h+10), idle(1, h+20)}, h + 3600 + late, []int64{h}, []int64{h + 3600}},
		{"all idle, clock inside the lateness", []PartitionState{idle(0, h+10), idle(1, h+20)}, h + 3600 + late - 1, nil, []int64{h}},
		{"no partitions", nil, h + 99999, nil, []int64{h}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.states, late, tt.now)
			for _, x := range tt.sealed {
				if !d.Sealable(x) {
					t.Errorf("hour %d not sealable (frontier %d)", x, d.Frontier)
				}
			}
			for _, x := range tt.open {
				if d.Sealable(x) {
					t.Errorf("hour %d sealable (frontier %d)", x, d.Frontier)
				}
			}
		})
	}
}

func TestCovers(t *testing.T) {
	k := schema.PartitionKey{Account: "1", Region: "r", Hour: 3600}
	s := PartitionState{Found: true, Next: 100, DurablePast: map[schema.PartitionKey]int64{k: 150}}
	for _, tt := range []struct {
		last int64
		want bool
	}{{99, true}, {100, true}, {150, true}, {151, false}} {
		if got := s.Covers(k, tt.last); got != tt.want {
			t.Errorf("Covers(%d) = %v, want %v", tt.last, got, tt.want)
		}
	}
	if (&PartitionState{}).Covers(k, 0) {
		t.Error("a partition without checkpoint covers nothing")
	}
}

func TestParseFolder(t *testing.T) {
	k := schema.PartitionKey{Account: "123456789012", Region: "eu-west-1", Hour: 1714557600}
	got, ok := ParseFolder("archive/" + HourFolder(k))
	if !ok || got != k {
		t.Fatalf("ParseFolder = %v %v", got, ok)
	}
	for _, bad := range []string{"", "AWSLogs/x", HourFolder(k) + "x", "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=r/year=2024/month=13/day=01/hour=10"} {
		if _, ok := ParseFolder(bad); ok {
			t.Errorf("ParseFolder(%q) accepted", bad)
		}
	}
}
