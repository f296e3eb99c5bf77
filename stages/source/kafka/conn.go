package kafka

import (
	"context"
	"net"
	"sync"
)

// Broker connections read through buffers of connReadBuffer bytes.
// kafka-go reads a connection through a 4 KiB bufio.Reader and reads each
// message value larger than that straight from the socket, so a fetch
// response cost a read system call per 4 KiB of small messages or per
// larger message: on the benchmark's VM that was 5-10% of flowlake's CPU.
//
// A connection takes a buffer when a read needs bytes and gives it back
// once they are all read, so idle connections hold none; at most
// maxReadBuffers exist (ReadBufferBytes, which the memory budget counts),
// and a connection that finds none free reads unbuffered, as kafka-go
// alone would.
const (
	connReadBuffer = 64 << 10
	maxReadBuffers = 16
	// ReadBufferBytes bounds the memory of the read buffers.
	ReadBufferBytes = connReadBuffer * maxReadBuffers
)

// readBuffers hands out at most maxReadBuffers buffers.
type readBuffers struct {
	free chan *[]byte
	made chan struct{} // one token per buffer made
}

func newReadBuffers() *readBuffers {
	return &readBuffers{free: make(chan *[]byte, maxReadBuffers), made: make(chan struct{}, maxReadBuffers)}
}

// get returns a free buffer, or nil when all are in use.
func (rb *readBuffers) get() *[]byte {
	select {
	case b := <-rb.free:
		return b
	default:
	}
	select {
	case rb.made <- struct{}{}:
		b := make([]byte, connReadBuffer)
		return &b
	default:
		return nil
	}
}

func (rb *readBuffers) put(b *[]byte) { rb.free <- b } // never blocks: at most cap exist

// dial dials like kafka-go's default dialer and buffers reads.
func (rb *readBuffers) dial(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: conn, bufs: rb}, nil
}

// bufferedConn is a connection whose reads go through a borrowed buffer.
// Deadlines go straight to the connection; Close gives the buffer back.
type bufferedConn struct {
	net.Conn
	bufs *readBuffers

	mu     sync.Mutex // held by Read, and by Close after the connection closed
	buf    *[]byte
	r, w   int
	err    error // returned once the buffered bytes are read
	closed bool
}

// Close closes the connection (ending a Read blocked on it), then gives
// the buffer back.
func (c *bufferedConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	c.closed = true
	c.release()
	c.mu.Unlock()
	return err
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.Conn.Read(p)
	}
	if c.r == c.w {
		if c.err != nil {
			err := c.err
			c.err = nil
			return 0, err
		}
		if len(p) >= connReadBuffer {
			return c.Conn.Read(p)
		}
		if c.buf == nil {
			if c.buf = c.bufs.get(); c.buf == nil {
				return c.Conn.Read(p)
			}
		}
		n, err := c.Conn.Read(*c.buf)
		c.r, c.w = 0, n
		if n == 0 {
			c.release()
			return 0, err
		}
		c.err = err
	}
	n := copy(p, (*c.buf)[c.r:c.w])
	c.r += n
	if c.r == c.w {
		c.release()
	}
	return n, nil
}

func (c *bufferedConn) release() {
	if c.buf != nil {
		c.bufs.put(c.buf)
		c.buf = nil
	}
	c.r, c.w = 0, 0
}
