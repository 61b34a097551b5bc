package repl

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meridiandb/meridian/internal/replog"
)

// pipelinedApplier is a fakeApplier fed like the partition writer: queued
// batches are applied one after another, in queue order, while the
// receiver goes on queueing.
type pipelinedApplier struct {
	*fakeApplier
	mu       sync.Mutex
	tail     chan struct{} // closed when the last queued batch is done
	inflight atomic.Int64
	maxDepth atomic.Int64 // most batches queued and unanswered at once
}

var _ PipelinedApplier = (*pipelinedApplier)(nil)

func newPipelinedApplier() *pipelinedApplier {
	return &pipelinedApplier{fakeApplier: newFakeApplier()}
}

func (p *pipelinedApplier) QueueReplicated(ctx context.Context, entries []*replog.Entry) (func() error, error) {
	p.mu.Lock()
	prev, done := p.tail, make(chan struct{})
	p.tail = done
	p.mu.Unlock()
	n := p.inflight.Add(1)
	for m := p.maxDepth.Load(); n > m && !p.maxDepth.CompareAndSwap(m, n); m = p.maxDepth.Load() {
	}
	res := make(chan error, 1)
	go func() {
		if prev != nil {
			<-prev
		}
		// Like the partition, a queued batch is applied even if the
		// session ends meanwhile.
		err := p.fakeApplier.ApplyReplicated(context.WithoutCancel(ctx), entries)
		p.inflight.Add(-1)
		res <- err
		close(done)
	}()
	return func() error { return <-res }, nil
}

// TestPipelinedStreamInOrderAppliedOnce: with a pipelined applier the
// receiver queues batches while earlier ones are applied, every entry is
// applied once and in order, and the sender sees the last one acked.
func TestPipelinedStreamInOrderAppliedOnce(t *testing.T) {
	checkNoLeaks(t)
	src := newFakeSource()
	s := startSender(t, "", &fakeSources{parts: map[uint64]*fakeSource{part: src}}, NewTracker(nil), Config{MaxBatch: 10})
	src.commit(500)
	r := newTestReceiver(t, "r1", func(c *Config) { c.MaxBatch = 10 })
	app := newPipelinedApplier()
	app.delay = 2 * time.Millisecond // an fsync per batch
	r.Follow(part, "w", s.addr, app)
	waitApplied(t, app.fakeApplier, 500)
	var last int64
	for range 20 {
		last = src.commit(5)
	}
	waitApplied(t, app.fakeApplier, last)
	requireAppliedOnce(t, app.fakeApplier, 0, last)
	_, items, _ := app.state()
	require.Equal(t, src.snapshotItems(), items)
	require.Greater(t, app.maxDepth.Load(), int64(1), "the receiver never queued a batch while another was applied")
	_, err := s.tr.WaitAcked(t.Context(), part, last, []string{"r1"}, 1)
	require.NoError(t, err)
	r.Close()
}

// TestPipelinedGapResubscribes: a queued batch that fails ends the session
// with its error, the batches queued behind it are answered, and the
// receiver resubscribes from what was applied.
func TestPipelinedGapResubscribes(t *testing.T) {
	checkNoLeaks(t)
	src := newFakeSource()
	s := startSender(t, "", &fakeSources{parts: map[uint64]*fakeSource{part: src}}, NewTracker(nil), Config{MaxBatch: 8})
	last := src.commit(300)
	app := newPipelinedApplier()
	app.gapAt = 50
	app.delay = time.Millisecond
	r := newTestReceiver(t, "r1", func(c *Config) { c.MaxBatch = 8 })
	r.Follow(part, "w", s.addr, app)
	waitApplied(t, app.fakeApplier, last)
	requireAppliedOnce(t, app.fakeApplier, 0, last)
	require.Equal(t, 1, app.gaps)
	require.GreaterOrEqual(t, s.srcs.lookups.Load(), int64(2), "resubscribed after the gap")
	r.Close()
}
