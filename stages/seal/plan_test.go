package seal

import (
	"math"
	"testing"

	"flowlake/schema"
)

func TestPlanReady(t *testing.T) {
	const h = 1714557600 // 2024-05-01T10:00Z
	const late = 900
	open := int64(math.MinInt64)
	tests := []struct {
		name     string
		lo, hi   int64
		pending  []Span
		selected func(string, string) bool
		hour     int64
		ready    bool
		why      string
	}{
		{"nothing pending, inside the range", h - 86400, h + 86400, nil, nil, h, true, ""},
		{"open range", open, math.MaxInt64, nil, nil, h, true, ""},
		{"an object of the hour pending", open, math.MaxInt64, []Span{{h + 300, h + 301}}, nil, h, false, WhyPending},
		{"a straddling object within the lateness pending", open, math.MaxInt64, []Span{{h + 3600 + 600, h + 3600 + 601}}, nil, h, false, WhyPending},
		{"an object past the lateness pending", open, math.MaxInt64, []Span{{h + 3600 + late, h + 3600 + late + 1}}, nil, h, true, ""},
		{"an object before the hour pending", open, math.MaxInt64, []Span{{h - 1, h}}, nil, h, true, ""},
		{"a day-long span of an object without time", open, math.MaxInt64, []Span{{h - 36000, h + 50400}}, nil, h, false, WhyPending},
		{"a long span before a short one still blocks", open, math.MaxInt64, []Span{{h - 36000, h + 50400}, {h - 100, h - 99}}, nil, h + 7200, false, WhyPending},
		{"the range ends inside the window", open, h + 3600 + 600, nil, nil, h, false, WhyEdge},
		{"the range ends at the window's end", open, h + 3600 + late, nil, nil, h, true, ""},
		{"the range starts after the hour", h + 1, math.MaxInt64, nil, nil, h, false, WhyEdge},
		{"account not selected", open, math.MaxInt64, nil, func(a, r string) bool { return a == "2" }, h, false, WhyNotSelected},
		{"account selected", open, math.MaxInt64, nil, func(a, r string) bool { return a == "1" }, h, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPlan(late, tt.lo, tt.hi, tt.pending)
			p.Selected = tt.selected
			ok, why := p.Ready(schema.PartitionKey{Account: "1", Region: "r", Hour: tt.hour})
			if ok != tt.ready || why != tt.why {
				t.Fatalf("Ready = %v %q, want %v %q", ok, why, tt.ready, tt.why)
			}
		})
	}
}
