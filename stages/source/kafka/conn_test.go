package kafka

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// TestBufferedConnReads: whatever the sizes of the reads, a buffered
// connection delivers the peer's bytes in order and then its EOF, and
// gives its buffer back once it has no unread bytes.
func TestBufferedConnReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	client, server := net.Pipe()
	bufs := newReadBuffers()
	c := &bufferedConn{Conn: client, bufs: bufs}
	go func() {
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(100<<10))
			if _, err := server.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		server.Close()
	}()
	var got []byte
	sizes := []int{1, 7, 4096, 11_600, connReadBuffer, connReadBuffer + 1, 200 << 10}
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := c.Read(p)
		got = append(got, p[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes that differ from the %d written", len(got), len(want))
	}
	if c.buf != nil || len(bufs.free) != len(bufs.made) {
		t.Fatalf("the buffer was not given back: %d free of %d made", len(bufs.free), len(bufs.made))
	}
}

// TestBufferedConnBounded: no more than maxReadBuffers buffers exist; a
// connection that finds none reads unbuffered, and Close gives a held
// buffer back. Deadlines still end reads.
func TestBufferedConnBounded(t *testing.T) {
	bufs := newReadBuffers()
	conns := make([]*bufferedConn, maxReadBuffers+1)
	for i := range conns {
		client, server := net.Pipe()
		t.Cleanup(func() { server.Close() })
		conns[i] = &bufferedConn{Conn: client, bufs: bufs}
		go server.Write([]byte("hello")) //nolint:errcheck
		// Reading 2 bytes leaves 3 unread in the buffer.
		p := make([]byte, 2)
		if _, err := io.ReadFull(conns[i], p); err != nil {
			t.Fatal(err)
		}
	}
	if len(bufs.made) != maxReadBuffers {
		t.Fatalf("%d buffers made, want %d", len(bufs.made), maxReadBuffers)
	}
	if conns[maxReadBuffers].buf != nil {
		t.Fatal("a connection holds a buffer beyond the bound")
	}
	if err := conns[0].Close(); err != nil {
		t.Fatal(err)
	}
	if len(bufs.free) != 1 {
		t.Fatalf("%d free buffers after a Close, want 1", len(bufs.free))
	}
	// A buffered connection's read still times out.
	c := conns[1]
	p := make([]byte, 3)
	if _, err := io.ReadFull(c, p); err != nil || string(p) != "llo" {
		t.Fatalf("read %q, %v", p, err)
	}
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(p); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
}
