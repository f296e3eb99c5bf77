package schema

import "testing"

func TestFreeList(t *testing.T) {
	type step struct {
		op   string // put, get, max
		key  string
		val  int // the value, which costs itself
		want bool
		// total is what the list holds after the step (-1: any within
		// the bound).
		total int64
	}
	tests := []struct {
		name  string
		max   int64
		steps []step
	}{
		{"keeps up to the bound", 10, []step{
			{"put", "a", 4, true, 4},
			{"put", "a", 6, true, 10},
			{"put", "b", 1, false, 10},
		}},
		{"gets the last put of its key only", 10, []step{
			{"put", "a", 2, true, 2},
			{"put", "b", 3, true, 5},
			{"get", "a", 2, true, 3},
			{"get", "a", 0, false, 3},
			{"get", "b", 3, true, 0},
		}},
		{"a lower bound drops what is over", 10, []step{
			{"put", "a", 4, true, 4},
			{"put", "b", 5, true, 9},
			{"max", "", 5, true, -1}, // either one is dropped
			{"put", "a", 6, false, -1},
			{"max", "", 0, true, 0},
			{"get", "a", 0, false, 0},
			{"get", "b", 0, false, 0},
		}},
		{"a zero bound keeps nothing", 0, []step{
			{"put", "a", 0, true, 0}, // a value that costs nothing fits
			{"put", "a", 1, false, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewFreeList[string](tc.max, func(v int) int64 { return int64(v) })
			for i, s := range tc.steps {
				switch s.op {
				case "put":
					if got := l.Put(s.key, s.val); got != s.want {
						t.Fatalf("step %d: Put(%s, %d) = %v, want %v", i, s.key, s.val, got, s.want)
					}
				case "get":
					v, ok := l.Get(s.key)
					if ok != s.want || (ok && v != s.val) {
						t.Fatalf("step %d: Get(%s) = %d, %v; want %d, %v", i, s.key, v, ok, s.val, s.want)
					}
				case "max":
					l.SetMax(int64(s.val))
					if l.Max() != int64(s.val) {
						t.Fatalf("step %d: Max %d after SetMax(%d)", i, l.Max(), s.val)
					}
				}
				if (s.total >= 0 && l.Total() != s.total) || l.Total() > max(l.Max(), 0) {
					t.Fatalf("step %d (%s): total %d, want %d (bound %d)", i, s.op, l.Total(), s.total, l.Max())
				}
			}
		})
	}
}
