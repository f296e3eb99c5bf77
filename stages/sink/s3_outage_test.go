package sink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
)

// TestS3Outage stops the gateway for two seconds while a Put runs: the Put
// must keep retrying, then succeed once the gateway is back on its port.
func TestS3Outage(t *testing.T) {
	env := newS3Env(t)
	reg := prometheus.NewRegistry()
	s := env.sink(t, env.config(), reg)
	data := randomBytes(256 << 10)
	env.srv.Stop()
	done := make(chan error, 1)
	go func() { done <- s.Put(context.Background(), "outage.parquet", data) }()

	select {
	case err := <-done:
		t.Fatalf("Put returned during the outage: %v", err)
	case <-time.After(2 * time.Second):
	}
	if _, _, retries := s.Stats(); retries < 3 {
		t.Fatalf("%d retries in a 2s outage, want at least 3", retries)
	}
	if err := env.srv.Start(); err != nil {
		t.Fatalf("restart gateway: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Put after the outage: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Put did not finish after the gateway came back")
	}
	got, err := s.Get(context.Background(), "outage.parquet")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after outage: %d bytes, %v", len(got), err)
	}
	if n := counterValue(t, reg, "flowlake_sink_s3_retries_total", "network"); n < 3 {
		t.Errorf("retries_total{reason=network} = %v, want >= 3", n)
	}
	if n := counterValue(t, reg, "flowlake_sink_s3_puts_total", ""); n != 1 {
		t.Errorf("puts_total = %v, want 1", n)
	}
}

// gateClient holds the first request that match selects until release is
// closed, so a test can stop the server at a known point of an upload. It
// only delays requests; the real gateway answers them.
type gateClient struct {
	next    s3.HTTPClient
	match   func(*http.Request) bool
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gateClient) Do(r *http.Request) (*http.Response, error) {
	if g.match(r) {
		g.once.Do(func() {
			close(g.arrived)
			<-g.release
		})
	}
	return g.next.Do(r)
}

// TestS3OutageMultipart stops the gateway between parts of a multipart
// upload; the upload resumes when it returns.
func TestS3OutageMultipart(t *testing.T) {
	env := newS3Env(t)
	cfg := env.config()
	cfg.MultipartThreshold, cfg.PartSize, cfg.PartConcurrency = 5<<20, 5<<20, 1
	s := env.sink(t, cfg, nil)
	gate := &gateClient{
		next:    awshttp.NewBuildableClient(),
		match:   func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "3" },
		arrived: make(chan struct{}),
		release: make(chan struct{}),
	}
	s.client = s3.New(s.client.Options(), func(o *s3.Options) { o.HTTPClient = gate })

	data := randomBytes(26 << 20) // six parts
	done := make(chan error, 1)
	go func() { done <- s.Put(context.Background(), "outage-mp.parquet", data) }()
	select {
	case <-gate.arrived:
	case err := <-done:
		t.Fatalf("Put ended before part 3: %v", err)
	}
	env.srv.Stop()
	close(gate.release)
	select {
	case err := <-done:
		t.Fatalf("Put returned during the outage: %v", err)
	case <-time.After(time.Second):
	}
	if _, _, retries := s.Stats(); retries < 2 {
		t.Fatalf("%d retries during the outage, want at least 2", retries)
	}
	if err := env.srv.Start(); err != nil {
		t.Fatalf("restart gateway: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Put after the outage: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Put did not finish after the gateway came back")
	}
	got, err := s.Get(context.Background(), "outage-mp.parquet")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after outage: %d bytes, %v", len(got), err)
	}
}

func TestS3CancelDuringOutage(t *testing.T) {
	env := newS3Env(t)
	s := env.sink(t, env.config(), nil)
	env.srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Put(ctx, "never.parquet", []byte("x")) }()
	waitFor(t, 5*time.Second, "Put to retry", func() bool {
		_, _, retries := s.Stats()
		return retries >= 2
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrPermanent) {
			t.Fatalf("Put: %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Put did not return after cancel")
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	if _, err := s.Get(ctx2, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get during outage: %v, want context.DeadlineExceeded", err)
	}
}

// TestS3MultipartCancelAborts cancels a multipart Put midway: the Put
// returns the context error and the unfinished upload is aborted.
func TestS3MultipartCancelAborts(t *testing.T) {
	env := newS3Env(t)
	cfg := env.config()
	cfg.MultipartThreshold, cfg.PartSize, cfg.PartConcurrency = 5<<20, 5<<20, 1
	s := env.sink(t, cfg, nil)
	gate := &gateClient{
		next:    awshttp.NewBuildableClient(),
		match:   func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" },
		arrived: make(chan struct{}),
		release: make(chan struct{}),
	}
	s.client = s3.New(s.client.Options(), func(o *s3.Options) { o.HTTPClient = gate })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Put(ctx, "canceled-mp.parquet", randomBytes(16<<20)) }()
	<-gate.arrived
	cancel()
	close(gate.release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v, want context.Canceled", err)
	}
	ups, err := env.srv.Client(t).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(env.bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left open after cancel", len(ups.Uploads))
	}
	if _, err := s.Get(context.Background(), "canceled-mp.parquet"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of the canceled object: %v, want ErrNotFound", err)
	}
}

// TestS3AttemptTimeout points the sink at a listener that accepts
// connections and never answers, as a hung server does: each attempt must
// time out and be retried until the Put's context ends.
func TestS3AttemptTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	acceptDone := make(chan struct{})
	defer func() {
		ln.Close()
		<-acceptDone // no conns.Go after this, so Wait is safe
		conns.Wait()
	}()
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				_, _ = io.Copy(io.Discard, c) // read, never answer; ends when the client gives up
				c.Close()
			})
		}
	}()
	reg := prometheus.NewRegistry()
	s, err := NewS3(context.Background(), S3Config{
		Bucket:         "b",
		Endpoint:       "http://" + ln.Addr().String(),
		Credentials:    credentials.NewStaticCredentialsProvider("a", "b", ""),
		RequestTimeout: 200 * time.Millisecond,
		MaxBackoff:     50 * time.Millisecond,
	}, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err = s.Put(ctx, "k", []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrPermanent) {
		t.Fatalf("Put: %v, want context.DeadlineExceeded", err)
	}
	if n := counterValue(t, reg, "flowlake_sink_s3_retries_total", "timeout"); n < 2 {
		t.Fatalf("retries_total{reason=timeout} = %v, want >= 2", n)
	}
}
