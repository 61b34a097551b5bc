package wan

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

const (
	// pumpBatch is about the most bytes the pump writes in one call.
	pumpBatch = 256 << 10
	// readChunk is the receive goroutine's read size.
	readChunk = 32 << 10
	// lingerGrace is how long Close waits for queued bytes past the time
	// the last of them is due.
	lingerGrace = time.Second
)

// conn is the connection returned by Dial and Wrap. Bytes written go into
// out and a pump goroutine writes them to inner when due; a receive
// goroutine reads inner into in, and Read takes them when due.
type conn struct {
	n     *Network
	inner net.Conn
	out   *pipe // travelling from→to
	in    *pipe // travelling to→from

	// wg counts the pump and receive goroutines.
	wg sync.WaitGroup
	// pumpDone is closed when the pump returns.
	pumpDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

var _ net.Conn = (*conn)(nil)

// pump delivers out's bytes to inner when due, until out is closed or
// drained, or inner fails.
func (c *conn) pump() {
	defer c.wg.Done()
	defer close(c.pumpDone)
	for {
		bufs, err := c.out.take(pumpBatch)
		if err != nil {
			return
		}
		total := 0
		for _, b := range bufs {
			total += len(b)
		}
		// WriteTo uses writev on a *net.TCPConn.
		n, err := bufs.WriteTo(c.inner)
		c.out.stats.leave(int(n))
		if err != nil {
			c.out.stats.discard(total - int(n))
			c.out.fail(err)
			return
		}
	}
}

// receive moves bytes from inner into in as they arrive, and then the end
// of the stream.
func (c *conn) receive() {
	defer c.wg.Done()
	buf := make([]byte, readChunk)
	for {
		n, err := c.inner.Read(buf)
		if n > 0 {
			if _, perr := c.in.push(buf[:n], nil, false /* appSide */, true /* copyData */); perr != nil {
				return
			}
		}
		if err != nil {
			// Fails harmlessly if in is closed, as it is when we closed inner.
			_, _ = c.in.push(nil, err, false /* appSide */, false /* copyData */)
			return
		}
	}
}

func (c *conn) opError(op string, err error) error {
	var oe *net.OpError
	if err == nil || errors.Is(err, io.EOF) || errors.As(err, &oe) {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.inner.LocalAddr(), Addr: c.inner.RemoteAddr(), Err: err}
}

// Read reads bytes from the peer once their to→from delay has passed and
// the link is open.
func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := c.in.read(b)
	return n, c.opError("read", err)
}

// Write queues b for the from→to link and returns without waiting for the
// delay. It blocks only while the direction's queue is full.
func (c *conn) Write(b []byte) (int, error) {
	n, err := c.out.push(b, nil, true /* appSide */, true /* copyData */)
	return n, c.opError("write", err)
}

// Close closes the connection. Unless the from→to link is partitioned, it
// first lingers until the bytes already written are delivered (at most
// until the last is due plus lingerGrace, or Network.Close).
func (c *conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.shutdown() })
	return c.closeErr
}

func (c *conn) shutdown() error {
	c.in.close(net.ErrClosed)
	if !c.n.current().partitioned(c.out.link) {
		last := c.out.drain()
		t := time.NewTimer(time.Until(last) + lingerGrace)
		select {
		case <-c.pumpDone:
		case <-t.C:
		case <-c.n.done:
		}
		t.Stop()
	}
	c.out.close(net.ErrClosed)
	err := c.inner.Close()
	c.wg.Wait()
	c.n.forget(c)
	return err
}

func (c *conn) LocalAddr() net.Addr  { return c.inner.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr { return c.inner.RemoteAddr() }

// SetDeadline sets both deadlines.
func (c *conn) SetDeadline(t time.Time) error {
	c.in.setDeadline(t)
	c.out.setDeadline(t)
	return nil
}

// SetReadDeadline bounds Read, including one already waiting for delayed
// or held bytes.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.in.setDeadline(t)
	return nil
}

// SetWriteDeadline bounds Write's wait for queue space. It does not bound
// delivery: a queued write is on its way, as in a kernel send buffer.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.out.setDeadline(t)
	return nil
}
