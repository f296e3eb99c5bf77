package config

import (
	"strings"
	"testing"

	"flowlake/stages/batch"
	"flowlake/stages/encode"
	"flowlake/stages/source/kafka"
)

// TestEachTypeValidatesItself: every config type's validator accepts its
// defaults, and reports the zero value's problems under its own path
// only, so a check lives in exactly one place.
func TestEachTypeValidatesItself(t *testing.T) {
	d := Default()
	tests := []struct {
		prefix   string
		defaults func(v *validator)
		zero     func(v *validator)
		wantZero int
	}{
		{"kafka.", func(v *validator) { k := d.Kafka; k.Brokers = []string{"k:9092"}; validateKafka(v, &k, false) },
			func(v *validator) { validateKafka(v, &kafka.Config{}, false) }, 10},
		{"sink.", func(v *validator) { s := d.Sink; s.validate(v) }, func(v *validator) { (&Sink{}).validate(v) }, 5},
		{"batch.", func(v *validator) { b := d.Batch; validateBatch(v, &b) }, func(v *validator) { validateBatch(v, &batch.Config{}) }, 4},
		{"parquet.", func(v *validator) { p := d.Parquet; validateParquet(v, &p) }, func(v *validator) { validateParquet(v, &encode.Config{}) }, 1},
		{"memory.", func(v *validator) { m := d.Memory; m.validate(v, int64(d.Batch.MaxBytes)) }, func(v *validator) { (&Memory{}).validate(v, 0) }, 1},
		{"enrich.", func(v *validator) { e := d.Enrich; e.validate(v) }, func(v *validator) { (&Enrich{}).validate(v) }, 2},
		{"seal.", func(v *validator) { s := d.Seal; s.validate(v) }, func(v *validator) { (&Seal{}).validate(v) }, 1},
		{"input.", func(v *validator) { i := d.Input; i.validate(v) }, func(v *validator) { (&Input{}).validate(v) }, 5},
	}
	for _, tt := range tests {
		v := &validator{c: &d}
		tt.defaults(v)
		if len(v.ps) > 0 {
			t.Errorf("%s defaults: %v", tt.prefix, v.ps)
		}
		v = &validator{c: &d}
		tt.zero(v)
		if len(v.ps) != tt.wantZero {
			t.Errorf("%s zero value: %d problems, want %d:\n%v", tt.prefix, len(v.ps), tt.wantZero, v.ps)
		}
		for _, p := range v.ps {
			if !strings.HasPrefix(p.Path, tt.prefix) {
				t.Errorf("%s validator reports %s", tt.prefix, p)
			}
		}
	}
}
