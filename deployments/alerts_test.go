package deployments

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// alertRule is one rule of files/alerts.yaml.
type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []alertRule {
	t.Helper()
	var doc struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	decodeYAMLFile(t, filepath.Join(chartDir, "files", "alerts.yaml"), &doc)
	var out []alertRule
	for _, g := range doc.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("no rules")
	}
	return out
}

var promParser = parser.NewParser(promqltest.TestParserOpts)

// series is a recorded run: each series (in PromQL's series notation) has a
// value per minute, or none (nil).
type series map[string]func(m int) *float64

func v(x float64) *float64 { return &x }

const (
	inst   = `job="flowlake", instance="a", namespace="flowlake", pod="flowlake-0"`
	instB  = `job="flowlake", instance="b", namespace="flowlake", pod="flowlake-1"`
	mib    = 1 << 20
	minute = 60.0
)

// healthy is two instances on a busy topic for three hours: instance a at
// 10,000 records/s with the lag sawtooth of 5-minute batches, instance b
// idle (no lag, its last durable write long ago), a few dead letters and
// S3 retries, memory under budget, inventories checked on time.
func healthy() series {
	fm := func(m int) float64 { return float64(m) }
	return series{
		`flowlake_records_total{` + inst + `}`:                                             func(m int) *float64 { return v(600000 * fm(m)) },
		`flowlake_rows_written_total{` + inst + `}`:                                        func(m int) *float64 { return v(599940 * fm(m)) },
		`flowlake_dead_letters_total{reason="bad_addr", ` + inst + `}`:                     func(m int) *float64 { return v(60 * fm(m)) },
		`flowlake_source_lag_records{topic="vpc-flow-logs", partition="0", ` + inst + `}`:  func(m int) *float64 { return v(float64(m%5+1) * 300000 * jitter(m)) },
		`flowlake_source_lag_records{topic="vpc-flow-logs", partition="1", ` + inst + `}`:  func(m int) *float64 { return v(float64((m+2)%5+1) * 300000 * jitter(m+7)) },
		`flowlake_source_lag_records{topic="vpc-flow-logs", partition="2", ` + instB + `}`: func(m int) *float64 { return v(0) },
		`flowlake_last_durable_timestamp_seconds{` + inst + `}`:                            func(m int) *float64 { return v(float64(m-m%5) * minute) },
		`flowlake_last_durable_timestamp_seconds{` + instB + `}`:                           func(m int) *float64 { return v(0) },
		`process_start_time_seconds{` + inst + `}`:                                         func(m int) *float64 { return v(0) },
		`process_start_time_seconds{` + instB + `}`:                                        func(m int) *float64 { return v(0) },
		`flowlake_memory_used_bytes{` + inst + `}`:                                         func(m int) *float64 { return v(float64(150+m%60) * mib) },
		`flowlake_memory_budget_bytes{` + inst + `}`:                                       func(m int) *float64 { return v(256 * mib) },
		`flowlake_sink_s3_puts_total{` + inst + `}`:                                        func(m int) *float64 { return v(20 * fm(m)) },
		`flowlake_sink_s3_retries_total{` + inst + `}`:                                     func(m int) *float64 { return v(fm(m / 10)) },
		`flowlake_sink_s3_permanent_errors_total{` + inst + `}`:                            func(m int) *float64 { return v(0) },
		`flowlake_enrich_last_success_timestamp_seconds{source="file", ` + inst + `}`:      func(m int) *float64 { return v(fm(m) * minute) },
		`flowlake_enrich_refresh_interval_seconds{source="file", ` + inst + `}`:            func(m int) *float64 { return v(10) },
		`flowlake_enrich_last_success_timestamp_seconds{source="ec2", ` + inst + `}`:       func(m int) *float64 { return v(float64(m-m%5) * minute) },
		`flowlake_enrich_refresh_interval_seconds{source="ec2", ` + inst + `}`:             func(m int) *float64 { return v(300) },
		`flowlake_ready{` + inst + `}`:                                                     func(m int) *float64 { return v(1) },
		`flowlake_ready{` + instB + `}`:                                                    func(m int) *float64 { return v(1) },
		`up{` + inst + `}`:                                                                 func(m int) *float64 { return v(1) },
		`up{` + instB + `}`:                                                                func(m int) *float64 { return v(1) },
	}
}

// with returns s with some series replaced.
func (s series) with(over series) series {
	out := maps.Clone(s)
	maps.Copy(out, over)
	return out
}

func (s series) load(minutes int) string {
	var b strings.Builder
	b.WriteString("load 1m\n")
	for _, k := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, "  %s", k)
		for m := 0; m <= minutes; m++ {
			if x := s[k](m); x == nil {
				b.WriteString(" _")
			} else {
				fmt.Fprintf(&b, " %g", *x)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// evaluate runs every rule once a minute over the recorded run and returns,
// per alert, the first minute it was firing (absent: never).
func evaluate(t *testing.T, rs []alertRule, s series, minutes int) map[string]int {
	t.Helper()
	st := promqltest.LoadedStorage(t, s.load(minutes))
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 10_000_000)
	query := rules.EngineQueryFunc(engine, st)
	firing := map[string]int{}
	for _, r := range rs {
		expr, err := promParser.ParseExpr(r.Expr)
		if err != nil {
			t.Fatalf("%s: %v", r.Alert, err)
		}
		var hold model.Duration
		if r.For != "" {
			if hold, err = model.ParseDuration(r.For); err != nil {
				t.Fatalf("%s: for: %v", r.Alert, err)
			}
		}
		rule := rules.NewAlertingRule(r.Alert, expr, time.Duration(hold), 0, labels.FromMap(r.Labels), labels.FromMap(r.Annotations),
			labels.EmptyLabels(), "", false, slog.New(slog.DiscardHandler))
		for m := 0; m <= minutes; m++ {
			if _, err := rule.Eval(context.Background(), 0, time.Unix(int64(m)*60, 0), query, &url.URL{}, 0); err != nil {
				t.Fatalf("%s at minute %d: %v", r.Alert, m, err)
			}
			for _, a := range rule.ActiveAlerts() {
				if a.State != rules.StateFiring {
					continue
				}
				a.Annotations.Range(func(l labels.Label) {
					if strings.Contains(l.Value, "error expanding") || strings.Contains(l.Value, "<no value>") {
						t.Errorf("%s: annotation %s expands to %q", r.Alert, l.Name, l.Value)
					}
				})
				if _, ok := firing[r.Alert]; !ok {
					firing[r.Alert] = m
				}
			}
		}
	}
	return firing
}

// TestAlertsQuietWhenHealthy: three healthy hours fire nothing.
func TestAlertsQuietWhenHealthy(t *testing.T) {
	if f := evaluate(t, loadRules(t), healthy(), 180); len(f) > 0 {
		t.Fatalf("alerts fired in a healthy run (alert: first minute): %v", f)
	}
}

// TestAlertsFire: each rule fires in the failure it names, in time.
func TestAlertsFire(t *testing.T) {
	rs := loadRules(t)
	const lagKey = `flowlake_source_lag_records{topic="vpc-flow-logs", partition="0", ` + inst + `}`
	tests := []struct {
		alert  string
		why    string
		failed series
		within int // minutes the alert may take to fire
	}{
		{"FlowlakeLagGrowing", "producers outpace flowlake by 20k records a minute", series{
			lagKey: func(m int) *float64 { return v(float64(m%5+1)*300000 + float64(m)*20000) },
		}, 75},
		{"FlowlakeNothingDurable", "S3 outage from minute 30: reads continue up to the budget, nothing durable", series{
			`flowlake_last_durable_timestamp_seconds{` + inst + `}`: func(m int) *float64 { return v(float64(min(m, 30)-min(m, 30)%5) * minute) },
			lagKey: func(m int) *float64 { return v(float64(m%5+1)*300000 + float64(max(m-30, 0))*600000) },
		}, 55},
		{"FlowlakeNothingDurable", "S3 unreachable from the start: the durable timestamp was never set", series{
			`flowlake_last_durable_timestamp_seconds{` + inst + `}`: func(m int) *float64 { return v(0) },
		}, 25},
		{"FlowlakeDeadLetters", "5% of records are dead letters", series{
			`flowlake_dead_letters_total{reason="field_count", ` + inst + `}`: func(m int) *float64 { return v(30000 * float64(max(m-20, 0))) },
		}, 50},
		{"FlowlakeSinkPermanentErrors", "a permanent S3 error at minute 20", series{
			`flowlake_sink_s3_permanent_errors_total{` + inst + `}`: func(m int) *float64 { return v(float64(m / 20)) },
		}, 21},
		{"FlowlakeSinkPermanentErrors", "the container restarts every 5 minutes from minute 20 (exit on a permanent error)", series{
			`process_start_time_seconds{` + inst + `}`: func(m int) *float64 {
				if m < 20 {
					return v(0)
				}
				return v(float64(m-m%5) * minute)
			},
		}, 40},
		{"FlowlakeMemoryAtBudget", "at 250 of 256 MiB from minute 30", series{
			`flowlake_memory_used_bytes{` + inst + `}`: func(m int) *float64 {
				if m < 30 {
					return v(150 * mib)
				}
				return v(250 * mib)
			},
		}, 50},
		{"FlowlakeS3Retries", "a quarter of PUTs retried from minute 30", series{
			`flowlake_sink_s3_retries_total{` + inst + `}`: func(m int) *float64 { return v(5 * float64(max(m-30, 0))) },
		}, 55},
		{"FlowlakeInventoryStale", "the inventory files vanish at minute 10", series{
			`flowlake_enrich_last_success_timestamp_seconds{source="file", ` + inst + `}`: func(m int) *float64 { return v(float64(min(m, 10)) * minute) },
		}, 35},
		{"FlowlakeInventoryStale", "EC2 refreshes fail from minute 30", series{
			`flowlake_enrich_last_success_timestamp_seconds{source="ec2", ` + inst + `}`: func(m int) *float64 { return v(float64(min(m, 30)-min(m, 30)%5) * minute) },
		}, 55},
		{"FlowlakeNotReady", "not ready from minute 10", series{
			`flowlake_ready{` + instB + `}`: func(m int) *float64 { return v(float64(min(1, 10/(m+1)))) },
		}, 30},
		{"FlowlakeInstanceDown", "instance b unreachable from minute 10", series{
			`up{` + instB + `}`: func(m int) *float64 { return v(float64(min(1, 10/(m+1)))) },
		}, 20},
		{"FlowlakeDown", "every instance gone from minute 10", series{
			`up{` + inst + `}`:  func(m int) *float64 { return ifBefore(m, 10, 1) },
			`up{` + instB + `}`: func(m int) *float64 { return ifBefore(m, 10, 1) },
		}, 30},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.alert] = true
		t.Run(tt.alert+"/"+tt.why, func(t *testing.T) {
			firing := evaluate(t, rs, healthy().with(tt.failed), 90)
			at, ok := firing[tt.alert]
			if !ok || at > tt.within {
				t.Fatalf("%s did not fire within %d minutes (first minute %d, fired %v)", tt.alert, tt.within, at, ok)
			}
		})
	}
	for _, r := range rs {
		if !covered[r.Alert] {
			t.Errorf("rule %s has no failure scenario", r.Alert)
		}
	}
}

// jitter is a deterministic +-4% wobble, so healthy series are not flat.
func jitter(m int) float64 { return 1 + 0.04*math.Sin(float64(m)*1.7) }

func ifBefore(m, until int, x float64) *float64 {
	if m < until {
		return v(x)
	}
	return nil
}
