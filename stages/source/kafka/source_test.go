package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/schema"
	source "flowlake/stages/source/kafka"
)

func TestAuthValidate(t *testing.T) {
	tests := []struct {
		auth source.Auth
		ok   bool
	}{
		{source.Auth{}, true},
		{source.Auth{TLS: true, SASL: "aws-msk-iam"}, true},
		{source.Auth{SASL: "plain", Username: "u", Password: "p"}, true},
		{source.Auth{SASL: "scram-sha-512", Username: "u"}, false},
		{source.Auth{SASL: "gssapi", Username: "u", Password: "p"}, false},
	}
	for _, tt := range tests {
		if err := tt.auth.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.auth, err)
		}
	}
	if s := fmt.Sprintf("%v %+v", source.Secret("hunter2"), source.Auth{Password: "hunter2"}); strings.Contains(s, "hunter2") {
		t.Fatalf("secret printed: %s", s)
	}
}

// assignment consumes one generation of group on env and returns its only
// partition's assignment, for driving a Fetcher directly.
func fetcherFor(t *testing.T, env *testenv.KafkaEnv, offset int64) (*source.Fetcher, func()) {
	t.Helper()
	src, err := source.New(source.Config{Brokers: env.Brokers, Topic: env.Topic, Group: "g", FetchMaxWait: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *source.Fetcher, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = src.Run(ctx, func(hctx context.Context, a *source.Assignment) error {
			got <- src.Fetcher(a, offset)
			<-hctx.Done()
			return nil
		})
	}()
	select {
	case f := <-got:
		return f, func() { f.Close(); cancel(); <-done }
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("no assignment")
		return nil, nil
	}
}

func TestFetcher(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	msgs := make([]kafka.Message, 300)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: []byte(fmt.Sprintf("m%d", i))}
	}
	env.Produce(t, msgs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("reads everything in order from the first offset", func(t *testing.T) {
		f, stop := fetcherFor(t, env, kafka.FirstOffset)
		defer stop()
		var all []schema.Message
		for len(all) < 300 {
			out, err := f.Fetch(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, out...)
		}
		for i, m := range all {
			if m.Offset != int64(i) || string(m.Value) != fmt.Sprintf("m%d", i) {
				t.Fatalf("message %d: offset %d value %q", i, m.Offset, m.Value)
			}
		}
		// Nothing more: an idle fetch is empty, not an error.
		out, err := f.Fetch(ctx, nil)
		if err != nil || len(out) != 0 || f.Offset() != 300 {
			t.Fatalf("idle fetch: %d messages, err %v, offset %d", len(out), err, f.Offset())
		}
	})
	t.Run("an offset past the end is an error naming it, never a skip", func(t *testing.T) {
		f, stop := fetcherFor(t, env, 10_000)
		defer stop()
		out, err := f.Fetch(ctx, nil)
		var reset *source.OffsetResetError
		if !errors.As(err, &reset) || len(out) != 0 {
			t.Fatalf("fetch past the end: %d messages, err %v; want an *OffsetResetError", len(out), err)
		}
		if reset.Offset != 10_000 || reset.First != 0 || reset.End != 300 || !reset.PastEnd() || f.Offset() != 10_000 {
			t.Fatalf("reset %+v, fetcher offset %d", reset, f.Offset())
		}
		for _, want := range []string{"flows", "partition 0", "10000", "log end 300", "--on-offset-reset earliest"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
		}
	})
	t.Run("a record batch larger than the fetch size comes in pieces of that size", func(t *testing.T) {
		big := testenv.Kafka(t, "big", 1)
		const n, size, maxBytes = 300, 1000, 10_000
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			msgs[i] = kafka.Message{Value: []byte(fmt.Sprintf("%0*d", size, i))}
		}
		big.Produce(t, msgs) // one call: one record batch of 300 KB
		f, stop := fetcherFor(t, big, kafka.FirstOffset)
		defer stop()
		f.SetMaxBytes(maxBytes)
		var all []schema.Message
		for fetches := 0; len(all) < n; fetches++ {
			out, err := f.Fetch(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) > maxBytes/size {
				t.Fatalf("fetch %d returned %d messages of %d bytes; want at most %d", fetches, len(out), size, maxBytes/size)
			}
			all = append(all, out...)
		}
		for i, m := range all {
			if m.Offset != int64(i) || string(m.Value) != fmt.Sprintf("%0*d", size, i) {
				t.Fatalf("message %d: offset %d value %.12q", i, m.Offset, m.Value)
			}
		}
	})
	t.Run("the latest offset starts at the end", func(t *testing.T) {
		f, stop := fetcherFor(t, env, kafka.LastOffset)
		defer stop()
		out, err := f.Fetch(ctx, nil)
		if err != nil || len(out) != 0 || f.Offset() != 300 {
			t.Fatalf("%d messages, err %v, offset %d", len(out), err, f.Offset())
		}
	})
}
