package batch

import (
	"testing"

	"flowlake/stages/parse"
)

func TestDurableWatermark(t *testing.T) {
	const h = 1714557600
	tests := []struct {
		name  string
		clock int64
		open  []int64 // hours with open batches
		want  int64
	}{
		{"nothing open: the clock", h + 4000, nil, h + 4000},
		{"open batch of the current hour: the clock", h + 1200, []int64{h}, h + 1200},
		{"open batch of a past hour holds it below that hour's end", h + 3600 + 1500, []int64{h, h + 3600}, h + 3599},
		{"the oldest open hour wins", h + 9000, []int64{h + 3600, h - 3600}, h - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Defaults, 0)
			b.clock.clock = tt.clock
			for _, hr := range tt.open {
				k := parse.GroupKey{Account: "1", Region: "r", Hour: hr}
				b.open[k] = &Batch{Key: k}
			}
			if got := b.durableWatermark(); got != tt.want {
				t.Fatalf("watermark %d, want %d", got, tt.want)
			}
		})
	}
}
