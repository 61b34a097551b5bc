package repl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/api/replpb"
	"github.com/meridiandb/meridian/internal/replog"
)

const (
	// maxBatchBytes is about the most entry bytes per Batch (a single
	// larger entry still goes alone).
	maxBatchBytes = 1 << 20
	// maxChunkBytes and maxChunkItems bound one SnapshotChunk.
	maxChunkBytes = 1 << 20
	maxChunkItems = 1024
	// maxRecvMsgBytes is the receiver's message size limit: one entry can
	// hold a whole transactional batch.
	maxRecvMsgBytes = 64 << 20
)

// Service is the sender side of replication (write region): register it on
// the region's gRPC server, built with ServerOptions.
type Service struct {
	replpb.UnimplementedReplicationServer

	cfg Config
	log *slog.Logger
	src Sources
	tr  *Tracker
	ver verifier

	// ctx is cancelled by Close; every stream ends with it.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards closed, and orders wg.Add against Close's wg.Wait.
	mu     sync.Mutex
	closed bool
	// wg counts running RPC handlers and their ack readers.
	wg sync.WaitGroup
}

// NewService returns the sender for the partitions in src, recording
// acknowledgements in tr. It panics if cfg (after Defaults) is invalid;
// call cfg.Validate first to get an error instead.
func NewService(cfg Config, src Sources, tr *Tracker) *Service {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s := &Service{
		cfg: cfg,
		log: cfg.Logger.With("component", "repl-sender", "region", cfg.Region),
		src: src,
		tr:  tr,
		ver: verifier{secret: append([]byte(nil), cfg.Secret...), clock: cfg.Clock},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Register registers the service on g.
func (s *Service) Register(g *grpc.Server) { replpb.RegisterReplicationServer(g, s) }

// Close ends every open stream (receivers reconnect elsewhere or later) and
// waits for their goroutines, or until ctx ends. Later RPCs fail with
// Unavailable. It is idempotent.
//
// A stream whose receiver stopped reading can be blocked in a gRPC Send,
// which only the end of the stream releases: if ctx ends first, Close
// returns its error and those goroutines end when the gRPC server stops
// (Stop, or GracefulStop's fallback). So at shutdown call Close with a
// bounded ctx before stopping the server; a later Close waits again.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("repl: close sender: %w", ctx.Err())
	}
}

// enter registers a goroutine with the service, unless it is closed.
func (s *Service) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

var errServiceClosed = status.Error(codes.Unavailable, "repl: sender is shutting down")

// authenticate returns the peer region the interceptor verified, or
// verifies the credential itself when the server was built without
// ServerOptions.
func (s *Service) authenticate(ctx context.Context, method string) (string, error) {
	if r, ok := ctx.Value(peerRegionKey{}).(string); ok {
		return r, nil
	}
	return s.ver.verify(ctx, method)
}

// open authenticates an RPC for partition from region and finds its
// source.
func (s *Service) open(ctx context.Context, method, region string, partition uint64) (Source, error) {
	peer, err := s.authenticate(ctx, method)
	if err != nil {
		return nil, err
	}
	if region != peer {
		return nil, status.Errorf(codes.PermissionDenied, "repl: credential of region %q used for region %q", peer, region)
	}
	src, err := s.src.Source(partition)
	if err != nil {
		return nil, status.Errorf(codes.NotFound, "repl: partition %d: %v", partition, err)
	}
	return src, nil
}

// toStatus translates a sender error into a gRPC status error; it is the
// service's one error table.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, replog.ErrCorrupt):
		return status.Error(codes.DataLoss, err.Error())
	default:
		return status.Error(codes.Unavailable, err.Error())
	}
}

// Subscribe serves one receiver's stream of one partition.
func (s *Service) Subscribe(stream replpb.Replication_SubscribeServer) error {
	if !s.enter() {
		return errServiceClosed
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()

	method, _ := grpc.MethodFromServerStream(stream)
	if _, err := s.authenticate(ctx, method); err != nil {
		return err
	}
	if err := prove(s.ver.secret, stream, method); err != nil {
		return err
	}
	// The reader receives the Subscribe and then the Acks. Recv cannot be
	// interrupted except by the end of the stream, so the reader may
	// outlive this handler until the stream ends (which it does once the
	// handler returns); it is counted in s.wg so Close waits for it.
	if !s.enter() {
		return errServiceClosed
	}
	var (
		first   = make(chan *replpb.Subscribe, 1)
		start   = make(chan struct{}) // closed once the tracker knows the peer
		readErr = make(chan error, 1)
	)
	go func() {
		defer s.wg.Done()
		readErr <- s.readAcks(ctx, stream, first, start)
		cancel()
	}()

	var sub *replpb.Subscribe
	select {
	case sub = <-first:
	case err := <-readErr:
		if err == nil {
			err = status.Error(codes.Canceled, "repl: stream ended before Subscribe")
		}
		return err
	case <-ctx.Done():
		if s.ctx.Err() != nil {
			return errServiceClosed
		}
		return toStatus(ctx.Err())
	}
	if sub.AfterLsn < 0 {
		return status.Error(codes.InvalidArgument, "repl: Subscribe.after_lsn must not be negative")
	}
	src, err := s.open(ctx, method, sub.Region, sub.Partition)
	if err != nil {
		return err
	}
	p, region := sub.Partition, sub.Region
	log := s.log.With("partition", p, "peer", region)
	s.tr.connect(p, region, sub.AfterLsn)
	defer s.tr.disconnect(p, region)
	close(start)
	log.Debug("subscriber connected", "after", sub.AfterLsn)

	err = s.send(ctx, stream, src, p, sub.AfterLsn)
	select {
	case rerr := <-readErr:
		if rerr != nil {
			err = rerr // a protocol error from the receiver wins
		}
	default:
	}
	if ctx.Err() != nil && s.ctx.Err() != nil {
		return errServiceClosed
	}
	log.Debug("subscriber stream ended", "err", err)
	return toStatus(err)
}

// readAcks receives the Subscribe (handed over on first), waits for start,
// then records the receiver's acks until the stream ends. It returns an
// error only for a protocol violation.
func (s *Service) readAcks(ctx context.Context, stream replpb.Replication_SubscribeServer, first chan<- *replpb.Subscribe, start <-chan struct{}) error {
	m, err := stream.Recv()
	if err != nil {
		return nil // the stream ended; the handler reports why
	}
	sub := m.GetSubscribe()
	if sub == nil {
		return status.Error(codes.InvalidArgument, "repl: stream must start with Subscribe")
	}
	first <- sub
	select {
	case <-start:
	case <-ctx.Done():
		return nil
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return nil
		}
		a := m.GetAck()
		if a == nil {
			return status.Error(codes.InvalidArgument, "repl: only Acks may follow Subscribe")
		}
		s.tr.ack(sub.Partition, sub.Region, a.DurableLsn)
	}
}

// send ships the log after `after`, then tails it, until ctx ends, the
// stream fails or the receiver needs a snapshot.
func (s *Service) send(ctx context.Context, stream replpb.Replication_SubscribeServer, src Source, p uint64, after int64) error {
	sent := after
	var (
		lastSend      time.Time // real time of the last message
		sentCommitted int64     = -1
		sentQuorum    []string
		entries       = make([][]byte, 0, s.cfg.MaxBatch)
	)
	var sentQuorumLSN int64 = -1
	progress := func(committed int64, quorum []string, quorumLSN int64) *replpb.Progress {
		sentCommitted, sentQuorum, sentQuorumLSN = committed, quorum, quorumLSN
		return &replpb.Progress{
			HeadLsn:       src.Applied(),
			CommittedLsn:  committed,
			SentUnixNanos: s.cfg.Clock().UnixNano(),
			Epoch:         src.Epoch(),
			Quorum:        quorum,
			QuorumLsn:     quorumLSN,
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		committed, quorum, quorumLSN, changed := s.tr.progress(p)
		var (
			trimmed int64
			err     error
		)
		entries, trimmed, err = s.read(src, sent, entries[:0])
		if err != nil {
			return err
		}
		if trimmed > 0 {
			return stream.Send(&replpb.SenderMessage{Msg: &replpb.SenderMessage_SnapshotRequired{
				SnapshotRequired: &replpb.SnapshotRequired{FirstLsn: trimmed},
			}})
		}
		if n := len(entries); n > 0 {
			msg := &replpb.SenderMessage{Msg: &replpb.SenderMessage_Batch{Batch: &replpb.Batch{
				Entries:  entries,
				Progress: progress(committed, quorum, quorumLSN),
			}}}
			fpBeforeSend.Hit()
			if err := stream.Send(msg); err != nil {
				return err
			}
			sent += int64(n)
			lastSend = time.Now()
			entries = make([][]byte, 0, s.cfg.MaxBatch) // the sent slice may still be referenced
			continue
		}
		wait := s.cfg.HeartbeatInterval - time.Since(lastSend)
		if committed != sentCommitted || !slices.Equal(quorum, sentQuorum) || quorumLSN != sentQuorumLSN || wait <= 0 {
			msg := &replpb.SenderMessage{Msg: &replpb.SenderMessage_Heartbeat{Heartbeat: &replpb.Heartbeat{
				Progress: progress(committed, quorum, quorumLSN),
			}}}
			if err := stream.Send(msg); err != nil {
				return err
			}
			lastSend = time.Now()
			continue
		}
		if err := waitNext(ctx, src, sent+1, changed, wait); err != nil {
			return err
		}
	}
}

// read appends the encoded entries after `after` that are durable, up to
// MaxBatch entries and about maxBatchBytes. If the log no longer holds
// after+1, it returns the lowest LSN it holds (or Applied()+1 if it holds
// none) as trimmed.
func (s *Service) read(src Source, after int64, dst [][]byte) (_ [][]byte, trimmed int64, _ error) {
	head := src.Applied()
	if head <= after {
		return dst, 0, nil
	}
	limit := int(min(int64(s.cfg.MaxBatch), head-after))
	next, size := after+1, 0
	var gap error
	err := src.ReadLog(after, limit, func(e *replog.Entry) bool {
		if e.LSN != next {
			if next == after+1 && e.LSN > next {
				trimmed = e.LSN
			} else {
				gap = fmt.Errorf("read log after %d: entry %d where %d expected: %w", after, e.LSN, next, replog.ErrCorrupt)
			}
			return false
		}
		b := e.Encode(nil)
		dst = append(dst, b)
		size += len(b)
		next++
		return size < maxBatchBytes
	})
	if err != nil {
		return dst[:0], 0, fmt.Errorf("read log after %d: %w", after, err)
	}
	if gap != nil {
		return dst[:0], 0, gap
	}
	if trimmed > 0 {
		return dst[:0], trimmed, nil
	}
	if len(dst) == 0 {
		// Applied says there is more, but the log has none of it.
		first, err := src.FirstLSN()
		if err != nil {
			return dst, 0, fmt.Errorf("first lsn: %w", err)
		}
		if first == 0 || first > after+1 {
			return dst, max(first, head+1), nil
		}
		return dst, 0, fmt.Errorf("read log after %d: entry %d missing below applied %d: %w", after, after+1, head, replog.ErrCorrupt)
	}
	return dst, 0, nil
}

// waitNext waits up to d for lsn to become durable or for progress to
// change. It returns an error only if ctx ends or the source fails.
func waitNext(ctx context.Context, src Source, lsn int64, changed <-chan struct{}, d time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-changed:
			cancel()
		case <-wctx.Done():
		}
	}()
	err := src.WaitApplied(wctx, lsn)
	cancel()
	<-done
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("wait applied %d: %w", lsn, err)
	}
	return nil
}

// Snapshot streams a point-in-time copy of a partition's items.
func (s *Service) Snapshot(req *replpb.SnapshotRequest, stream replpb.Replication_SnapshotServer) error {
	if !s.enter() {
		return errServiceClosed
	}
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()

	method, _ := grpc.MethodFromServerStream(stream)
	src, err := s.open(ctx, method, req.Region, req.Partition)
	if err != nil {
		return err
	}
	if err := prove(s.ver.secret, stream, method); err != nil {
		return err
	}
	log := s.log.With("partition", req.Partition, "peer", req.Region)
	chunk, size, items := &replpb.SnapshotChunk{}, 0, 0
	lsn, epoch, err := src.Snapshot(ctx, func(k, v []byte) error {
		chunk.Items = append(chunk.Items, &replpb.Item{Key: slices.Clone(k), Value: slices.Clone(v)})
		size += len(k) + len(v)
		items++
		if size < maxChunkBytes && len(chunk.Items) < maxChunkItems {
			return nil
		}
		err := stream.Send(chunk)
		chunk, size = &replpb.SnapshotChunk{}, 0
		return err
	})
	if err != nil {
		if s.ctx.Err() != nil {
			return errServiceClosed
		}
		return toStatus(fmt.Errorf("snapshot partition %d: %w", req.Partition, err))
	}
	chunk.Lsn, chunk.Epoch, chunk.Last = lsn, epoch, true
	if err := stream.Send(chunk); err != nil {
		return err
	}
	log.Info("snapshot sent", "lsn", lsn, "epoch", epoch, "items", items)
	return nil
}
