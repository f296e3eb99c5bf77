package batch

import (
	"fmt"
	"testing"
	"time"

	"flowlake/schema"
	"flowlake/stages/parse"
)

var layout = schema.NewLayout(schema.DefaultFormat, schema.Enrichment{})

const hour0 = 1_700_000_000 - 1_700_000_000%3600

// chunk builds a parsed chunk of n rows for account at offsets from..,
// with record time t.
func chunk(t *testing.T, account string, from int64, n int, recTime int64) *parse.Chunk {
	t.Helper()
	p := schema.NewParser(schema.DefaultFormat, 0)
	b := schema.NewBlock(layout)
	var r schema.Record
	for i := 0; i < n; i++ {
		line := fmt.Sprintf("2 %s eni-0a 10.0.0.1 10.0.0.2 1 2 6 1 1 %d %d ACCEPT OK", account, recTime, recTime+60)
		if err := p.Parse([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		b.Append(&r, schema.Pos{Offset: from + int64(i)}, recTime)
	}
	c := parse.NewChunk("t", 0, nil)
	c.Groups = []parse.Group{{Key: parse.GroupKey{Account: account, Region: "us-east-1", Hour: schema.HourOf(recTime), Layout: layout}, Block: b}}
	c.Stats.MaxTime = recTime
	return c
}

func TestFlushReasons(t *testing.T) {
	now := time.Unix(hour0, 0)
	cfg := Config{MaxRows: 100, MaxBytes: 1 << 20, MaxAge: time.Minute, Grace: 5 * time.Minute, MaxDeadLetters: 10, WatermarkSupport: 10}
	tests := []struct {
		name     string
		feed     func(b *Batcher)
		at       time.Time
		pressure bool
		stop     bool
		want     []Reason
	}{
		{"nothing due", func(b *Batcher) { b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now) }, now.Add(time.Second), false, false, nil},
		{"row limit", func(b *Batcher) { b.Add(chunk(t, "111111111111", 0, 100, hour0+10), 99, now) }, now, false, false, []Reason{ReasonRows}},
		{"age", func(b *Batcher) { b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now) }, now.Add(time.Minute), false, false, []Reason{ReasonAge}},
		{"hour over only after the grace", func(b *Batcher) {
			b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)
			b.Add(chunk(t, "222222222222", 10, 10, hour0+3600+299), 19, now)
		}, now, false, false, nil},
		{"hour over", func(b *Batcher) {
			b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)
			b.Add(chunk(t, "222222222222", 10, 10, hour0+3600+300), 19, now)
		}, now, false, false, []Reason{ReasonHourOver}},
		{"memory pressure flushes the largest half", func(b *Batcher) {
			b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)
			b.Add(chunk(t, "222222222222", 10, 90, hour0+20), 99, now)
			b.Add(chunk(t, "333333333333", 100, 10, hour0+20), 109, now)
		}, now, true, false, []Reason{ReasonMemory}},
		{"one outlier does not move the clock", func(b *Batcher) {
			b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)
			b.Add(chunk(t, "222222222222", 10, 1, 9_999_999_999), 10, now)
			b.Add(chunk(t, "222222222222", 11, 8, hour0+3600+400), 18, now)
		}, now, false, false, nil},
		{"enough records move the clock", func(b *Batcher) {
			b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)
			b.Add(chunk(t, "222222222222", 10, 1, 9_999_999_999), 10, now)
			b.Add(chunk(t, "222222222222", 11, 9, hour0+3600+400), 19, now)
		}, now, false, false, []Reason{ReasonHourOver}},
		{"memory pressure flushes one of equals", func(b *Batcher) {
			b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)
			b.Add(chunk(t, "222222222222", 10, 10, hour0+20), 19, now)
		}, now, true, false, []Reason{ReasonMemory}},
		{"stop flushes all", func(b *Batcher) {
			b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)
			b.Add(chunk(t, "222222222222", 10, 10, hour0+20), 19, now)
		}, now, false, true, []Reason{ReasonStop, ReasonStop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(cfg, 0)
			tt.feed(b)
			r := b.Due(tt.at, tt.pressure, tt.stop)
			var got []Reason
			if r != nil {
				for _, bt := range r.Batches {
					got = append(got, bt.Reason)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("reasons %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCommitPosition(t *testing.T) {
	now := time.Unix(hour0, 0)
	b := New(Config{MaxRows: 1000, MaxBytes: 1 << 20, MaxAge: time.Hour, Grace: time.Hour, MaxDeadLetters: 100, WatermarkSupport: 5}, 0)
	b.Add(chunk(t, "111111111111", 0, 10, hour0+10), 9, now)        // offsets 0-9, old account
	b.Add(chunk(t, "222222222222", 10, 100, hour0+10), 109, now)    // offsets 10-109
	b.Add(chunk(t, "111111111111", 110, 5, hour0+4*3600), 114, now) // a later hour: flushes the first hour
	r := b.Due(now, false, false)
	if r == nil || len(r.Batches) != 2 {
		t.Fatalf("round %+v, want the two batches of the first hour", r)
	}
	if r.Commit != 110 {
		t.Fatalf("commit %d, want 110 (the open batch starts there)", r.Commit)
	}
	if b.Open() != 1 || b.Size() <= 0 {
		t.Fatalf("open %d size %d", b.Open(), b.Size())
	}
	r = b.Due(now, false, true)
	if r.Commit != 115 || b.Open() != 0 || b.Size() != 0 {
		t.Fatalf("after stop: commit %d open %d size %d", r.Commit, b.Open(), b.Size())
	}
}

func TestDeadLettersHoldTheCommit(t *testing.T) {
	now := time.Unix(hour0, 0)
	b := New(Config{MaxRows: 1000, MaxBytes: 1 << 20, MaxAge: time.Minute, Grace: time.Hour, MaxDeadLetters: 3}, 0)
	c := parse.NewChunk("t", 0, nil)
	c.Dead = []parse.DeadLetter{{Offset: 4}, {Offset: 5}}
	b.Add(c, 9, now)
	if r := b.Due(now, false, false); r != nil {
		t.Fatalf("two dead letters under the limit are not due yet: %+v", r)
	}
	r := b.Due(now.Add(time.Minute), false, false)
	if r == nil || len(r.Dead) != 2 || r.Commit != 10 {
		t.Fatalf("round %+v, want both dead letters and commit 10", r)
	}
	c2 := parse.NewChunk("t", 0, nil)
	c2.Dead = []parse.DeadLetter{{Offset: 12}, {Offset: 13}, {Offset: 14}}
	if full := b.Add(c2, 20, now); !full {
		t.Fatal("reaching MaxDeadLetters must ask for a flush")
	}
}

func TestRoundsAreBounded(t *testing.T) {
	now := time.Unix(hour0, 0)
	b := New(Config{MaxRows: 100, MaxBytes: 1 << 20, MaxAge: time.Hour, MaxDeadLetters: 10, MaxRoundBatches: 3}, 0)
	for i := 0; i < 7; i++ {
		b.Add(chunk(t, fmt.Sprintf("%012d", i+1), int64(i), 1, hour0+10), int64(i), now)
	}
	var sizes []int
	var commits []int64
	for {
		r := b.Due(now, false, true)
		if r == nil {
			break
		}
		sizes = append(sizes, len(r.Batches))
		commits = append(commits, r.Commit)
		if r.More != (b.Open() > 0) {
			t.Fatalf("More %v with %d batches open", r.More, b.Open())
		}
	}
	// Oldest first, so every round moves the commit position.
	if fmt.Sprint(sizes) != "[3 3 1]" || fmt.Sprint(commits) != "[3 6 7]" || b.Size() != 0 {
		t.Fatalf("rounds %v, commits %v, size left %d; want [3 3 1], [3 6 7], 0", sizes, commits, b.Size())
	}
}

func TestDeadLetterBytesAreBudgeted(t *testing.T) {
	now := time.Unix(hour0, 0)
	b := New(Config{MaxRows: 100, MaxBytes: 1 << 20, MaxAge: time.Hour, MaxDeadLetters: 1000, MaxDeadBytes: 1000}, 0)
	c := parse.NewChunk("t", 0, nil)
	c.Dead = []parse.DeadLetter{{Offset: 0, Raw: make([]byte, 600)}}
	c.Stats.DeadBytes = int64(c.Dead[0].Mem())
	if full := b.Add(c, 0, now); full || b.Size() != c.Dead[0].Mem() {
		t.Fatalf("full %v size %d after one letter of %d bytes", full, b.Size(), c.Dead[0].Mem())
	}
	c2 := parse.NewChunk("t", 0, nil)
	c2.Dead = []parse.DeadLetter{{Offset: 1, Raw: make([]byte, 600)}}
	c2.Stats.DeadBytes = int64(c2.Dead[0].Mem())
	if full := b.Add(c2, 1, now); !full {
		t.Fatal("dead letters past MaxDeadBytes do not ask for a flush")
	}
	r := b.Due(now, false, false)
	if r == nil || len(r.Dead) != 2 || r.Bytes != int(c.Stats.DeadBytes+c2.Stats.DeadBytes) || b.Size() != 0 {
		t.Fatalf("round %+v, size left %d", r, b.Size())
	}
}
