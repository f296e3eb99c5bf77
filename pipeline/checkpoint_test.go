package pipeline

import (
	"context"
	"fmt"
	"testing"

	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
)

// TestCheckpointStaysSmall: while an old batch holds the commit back, every
// round adds durable entries. They spill to segment objects written once,
// so the checkpoint rewritten each round stays bounded, and loading it
// restores every entry.
func TestCheckpointStaysSmall(t *testing.T) {
	ctx := context.Background()
	s, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := newProgress(0)
	const rounds, perRound = 50, 400 // 20k keys
	var largest int
	for r := 0; r < rounds; r++ {
		files := map[parse.SkipKey]schema.Pos{}
		for i := 0; i < perRound; i++ {
			k := parse.SkipKey{Account: fmt.Sprintf("%012d", r*perRound+i), Region: "us-east-1", Hour: 3600, Layout: 7}
			files[k] = schema.Pos{Offset: int64(10 + r*perRound + i)}
		}
		p.advance(5, files, nil) // offset 5 is still open: the commit stays at 5
		if err := p.store(ctx, s, "g", "t", 0); err != nil {
			t.Fatal(err)
		}
		b, err := s.Get(ctx, checkpointKey("g", "t", 0))
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(b))
	}
	// 1000 inline entries of about 110 bytes, plus a line per segment.
	if largest > 160<<10 {
		t.Fatalf("checkpoint grew to %d bytes with %d keys", largest, rounds*perRound)
	}
	back, found, err := loadCheckpoint(ctx, s, "g", "t", 0)
	if err != nil || !found {
		t.Fatalf("load: %v %v", found, err)
	}
	if len(back.durable) != rounds*perRound || back.next != 5 {
		t.Fatalf("loaded %d entries at next %d, want %d at 5", len(back.durable), back.next, rounds*perRound)
	}
	for k, v := range p.durable {
		if back.durable[k] != v {
			t.Fatalf("entry %v: loaded %v, want %v", k, back.durable[k], v)
		}
	}
	// Once the commit passes them, segments are dropped from the list.
	p.advance(int64(10+rounds*perRound), nil, nil)
	if len(p.segments) != 0 || len(p.durable) != 0 {
		t.Fatalf("%d segments and %d entries left past the commit", len(p.segments), len(p.durable))
	}
	t.Logf("largest checkpoint %d bytes for %d keys", largest, rounds*perRound)
}
