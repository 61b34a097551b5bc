package raftnode

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/api/controlpb"
	"github.com/meridiandb/meridian/internal/peerconn"
)

const (
	// snapshotChunk is the data size of one InstallSnapshot message.
	snapshotChunk = 256 << 10
	// snapshotRate is the slowest transfer rate a snapshot is given time
	// for, on top of RPCTimeout.
	snapshotRate = 256 << 10 // bytes per second
	// maxRecvMsgBytes bounds a message this node receives as a client.
	maxRecvMsgBytes = 64 << 20
)

// errTransportClosed is returned by RPCs after Close.
var errTransportClosed = errors.New("raftnode: transport closed")

// contact is the leader's record of a peer acknowledging its term.
type contact struct {
	sent time.Time // when the acknowledged request was sent
	term uint64
}

// transport is raft.Transport over the Raft gRPC service: this node's
// client side, plus the handlers (in service) that deliver incoming RPCs
// on consumeCh.
type transport struct {
	localID    string
	localAddr  raft.ServerAddress
	auth       authenticator
	dial       func(ctx context.Context, peerID, addr string) (net.Conn, error)
	rpcTimeout time.Duration
	log        *slog.Logger
	consumeCh  chan raft.RPC

	// ctx is cancelled by Close; every outgoing RPC and every handler
	// waiting on raft ends with it.
	ctx    context.Context
	cancel context.CancelFunc

	// hbMu guards heartbeatFn, raft's fast path for heartbeats.
	hbMu        sync.Mutex
	heartbeatFn func(raft.RPC)

	// mu guards closed and conns.
	mu     sync.Mutex
	closed bool
	conns  map[string]*grpc.ClientConn // by peerKey(id, addr)

	// contactMu guards contacts: per peer, the last AppendEntries it
	// answered without rejecting the sender's term.
	contactMu sync.Mutex
	contacts  map[raft.ServerID]contact
}

var (
	_ raft.Transport   = (*transport)(nil)
	_ raft.WithClose   = (*transport)(nil)
	_ raft.WithPreVote = (*transport)(nil)
)

func newTransport(cfg *Config, auth authenticator, log *slog.Logger) *transport {
	t := &transport{
		localID:    cfg.ID,
		localAddr:  raft.ServerAddress(cfg.Addr),
		auth:       auth,
		dial:       cfg.Dial,
		rpcTimeout: cfg.RPCTimeout,
		log:        log,
		consumeCh:  make(chan raft.RPC),
		conns:      make(map[string]*grpc.ClientConn),
		contacts:   make(map[raft.ServerID]contact),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// Consumer delivers incoming RPCs to raft.
func (t *transport) Consumer() <-chan raft.RPC { return t.consumeCh }

// LocalAddr is this node's advertised address.
func (t *transport) LocalAddr() raft.ServerAddress { return t.localAddr }

// AppendEntriesPipeline is not supported: raft falls back to one
// AppendEntries at a time, which is plenty for the control plane.
func (t *transport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// AppendEntries sends entries (or a heartbeat) to a follower.
func (t *transport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	sent := time.Now()
	if err := t.unary(id, target, controlpb.Raft_AppendEntries_FullMethodName, args, resp); err != nil {
		return err
	}
	if resp.Term == args.Term {
		t.contactMu.Lock()
		if c := t.contacts[id]; sent.After(c.sent) {
			t.contacts[id] = contact{sent: sent, term: args.Term}
		}
		t.contactMu.Unlock()
	}
	return nil
}

// RequestVote asks a peer for its vote.
func (t *transport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return t.unary(id, target, controlpb.Raft_RequestVote_FullMethodName, args, resp)
}

// RequestPreVote asks a peer whether it would vote.
func (t *transport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.unary(id, target, controlpb.Raft_RequestPreVote_FullMethodName, args, resp)
}

// TimeoutNow tells a peer to start an election (leadership transfer).
func (t *transport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return t.unary(id, target, controlpb.Raft_TimeoutNow_FullMethodName, args, resp)
}

// InstallSnapshot streams a snapshot to a follower.
func (t *transport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	const method = controlpb.Raft_InstallSnapshot_FullMethodName
	cc, err := t.conn(id, target)
	if err != nil {
		return err
	}
	req, err := encodeGob(args)
	if err != nil {
		return err
	}
	timeout := t.rpcTimeout + time.Duration(args.Size/snapshotRate)*time.Second
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	ctx, nonce := t.auth.sign(ctx, method)
	stream, err := controlpb.NewRaftClient(cc).InstallSnapshot(ctx)
	if err != nil {
		return t.rpcError(id, err)
	}
	buf := make([]byte, snapshotChunk)
	msg := &controlpb.SnapshotChunk{Request: req}
	for {
		n, rerr := io.ReadFull(data, buf)
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read snapshot: %w", rerr)
		}
		msg.Data = buf[:n]
		if n > 0 || msg.Request != nil {
			if err := stream.Send(msg); err != nil {
				break // the status comes from CloseAndRecv
			}
		}
		msg = &controlpb.SnapshotChunk{}
		if rerr != nil {
			break
		}
	}
	out, err := stream.CloseAndRecv()
	if err != nil {
		return t.rpcError(id, err)
	}
	hdr, err := stream.Header()
	if err != nil {
		return t.rpcError(id, err)
	}
	if err := t.auth.checkProof(hdr, method, string(id), nonce); err != nil {
		return err
	}
	return decodeGob(out.Payload, resp)
}

// EncodePeer encodes a peer's address for the log.
func (t *transport) EncodePeer(_ raft.ServerID, addr raft.ServerAddress) []byte {
	return []byte(addr)
}

// DecodePeer decodes EncodePeer.
func (t *transport) DecodePeer(b []byte) raft.ServerAddress { return raft.ServerAddress(b) }

// SetHeartbeatHandler installs raft's fast path for heartbeats.
func (t *transport) SetHeartbeatHandler(fn func(raft.RPC)) {
	t.hbMu.Lock()
	t.heartbeatFn = fn
	t.hbMu.Unlock()
}

// Close cancels in-flight RPCs, makes handlers return and closes the
// client connections. It is idempotent.
func (t *transport) Close() error {
	t.mu.Lock()
	t.closed = true
	conns := t.conns
	t.conns = make(map[string]*grpc.ClientConn)
	t.mu.Unlock()
	t.cancel()
	for _, cc := range conns {
		_ = cc.Close() // nothing to do about a failed close
	}
	return nil
}

// contactsSnapshot copies the peers' last contacts.
func (t *transport) contactsSnapshot() map[raft.ServerID]contact {
	t.contactMu.Lock()
	defer t.contactMu.Unlock()
	out := make(map[raft.ServerID]contact, len(t.contacts))
	for k, v := range t.contacts {
		out[k] = v
	}
	return out
}

func peerKey(id raft.ServerID, addr raft.ServerAddress) string {
	return string(id) + "\x00" + string(addr)
}

// conn returns the client connection to a peer, creating it.
func (t *transport) conn(id raft.ServerID, target raft.ServerAddress) (*grpc.ClientConn, error) {
	key := peerKey(id, target)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errTransportClosed
	}
	if cc := t.conns[key]; cc != nil {
		return cc, nil
	}
	cc, err := peerconn.New(string(id), string(target), peerconn.Dialer(t.dial),
		peerconn.Options{MinConnectTimeout: t.rpcTimeout, MaxRecvMsgBytes: maxRecvMsgBytes})
	if err != nil {
		return nil, fmt.Errorf("raftnode: client for %s at %s: %w", id, target, err)
	}
	t.conns[key] = cc
	return cc, nil
}

// unary makes one authenticated Raft RPC carrying gob-encoded args and
// decodes the answer into resp.
func (t *transport) unary(id raft.ServerID, target raft.ServerAddress, method string, args, resp any) error {
	cc, err := t.conn(id, target)
	if err != nil {
		return err
	}
	payload, err := encodeGob(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.rpcTimeout)
	defer cancel()
	ctx, nonce := t.auth.sign(ctx, method)
	var hdr metadata.MD
	out := new(controlpb.RaftMessage)
	if err := cc.Invoke(ctx, method, &controlpb.RaftMessage{Payload: payload}, out, grpc.Header(&hdr)); err != nil {
		return t.rpcError(id, err)
	}
	if err := t.auth.checkProof(hdr, method, string(id), nonce); err != nil {
		return err
	}
	return decodeGob(out.Payload, resp)
}

// rpcError turns a call's status into an error for raft.
func (t *transport) rpcError(id raft.ServerID, err error) error {
	switch {
	case t.ctx.Err() != nil:
		return errTransportClosed
	case status.Code(err) == codes.Unauthenticated:
		return fmt.Errorf("%w: %s rejected this node's credential", ErrUnauthenticated, id)
	}
	return fmt.Errorf("raft rpc to %s: %w", id, err)
}

// encodeGob encodes one hashicorp/raft message.
func encodeGob(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return nil, fmt.Errorf("raftnode: encode %T: %w", v, err)
	}
	return b.Bytes(), nil
}

// decodeGob decodes into v (a pointer), zeroing it first: gob leaves
// fields that were zero at the sender untouched, and raft reuses its
// response structs.
func decodeGob(b []byte, v any) error {
	reflect.ValueOf(v).Elem().SetZero()
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return fmt.Errorf("raftnode: decode %T: %w", v, err)
	}
	return nil
}

// service implements the Raft gRPC service: the Raft RPCs go to the
// transport's consumer, Propose to the Node.
type service struct {
	controlpb.UnimplementedRaftServer
	t *transport
	n *Node
}

var _ controlpb.RaftServer = (*service)(nil)

// handle authenticates a unary Raft RPC, delivers it to raft and encodes
// raft's answer.
func (s *service) handle(ctx context.Context, method string, in *controlpb.RaftMessage, cmd any) (*controlpb.RaftMessage, error) {
	if err := s.t.auth.verifyUnary(ctx, method); err != nil {
		return nil, err
	}
	if err := decodeGob(in.GetPayload(), cmd); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{Command: cmd, RespChan: respCh}
	if req, ok := cmd.(*raft.AppendEntriesRequest); ok && isHeartbeat(req) {
		s.t.hbMu.Lock()
		fn := s.t.heartbeatFn
		s.t.hbMu.Unlock()
		if fn != nil {
			fn(rpc)
			return s.answer(ctx, respCh)
		}
	}
	select {
	case s.t.consumeCh <- rpc:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	case <-s.t.ctx.Done():
		return nil, status.Error(codes.Unavailable, errTransportClosed.Error())
	}
	return s.answer(ctx, respCh)
}

func (s *service) answer(ctx context.Context, respCh <-chan raft.RPCResponse) (*controlpb.RaftMessage, error) {
	select {
	case resp := <-respCh:
		return encodeResponse(resp)
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	case <-s.t.ctx.Done():
		return nil, status.Error(codes.Unavailable, errTransportClosed.Error())
	}
}

func encodeResponse(resp raft.RPCResponse) (*controlpb.RaftMessage, error) {
	if resp.Error != nil {
		return nil, status.Error(codes.Unknown, resp.Error.Error())
	}
	b, err := encodeGob(resp.Response)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &controlpb.RaftMessage{Payload: b}, nil
}

// isHeartbeat reports whether req is a bare heartbeat (as
// raft.NetworkTransport decides it).
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	leader := req.Addr
	if len(leader) == 0 {
		leader = req.Leader
	}
	return req.Term != 0 && leader != nil && req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}

func (s *service) AppendEntries(ctx context.Context, in *controlpb.RaftMessage) (*controlpb.RaftMessage, error) {
	return s.handle(ctx, controlpb.Raft_AppendEntries_FullMethodName, in, new(raft.AppendEntriesRequest))
}

func (s *service) RequestVote(ctx context.Context, in *controlpb.RaftMessage) (*controlpb.RaftMessage, error) {
	return s.handle(ctx, controlpb.Raft_RequestVote_FullMethodName, in, new(raft.RequestVoteRequest))
}

func (s *service) RequestPreVote(ctx context.Context, in *controlpb.RaftMessage) (*controlpb.RaftMessage, error) {
	return s.handle(ctx, controlpb.Raft_RequestPreVote_FullMethodName, in, new(raft.RequestPreVoteRequest))
}

func (s *service) TimeoutNow(ctx context.Context, in *controlpb.RaftMessage) (*controlpb.RaftMessage, error) {
	return s.handle(ctx, controlpb.Raft_TimeoutNow_FullMethodName, in, new(raft.TimeoutNowRequest))
}

// InstallSnapshot hands raft a reader over the stream's chunks. Once raft
// has taken the RPC it reads the stream, so the handler waits for raft's
// answer (or the transport's close, which comes after raft stopped)
// before it returns and the stream becomes unusable.
func (s *service) InstallSnapshot(stream controlpb.Raft_InstallSnapshotServer) error {
	const method = controlpb.Raft_InstallSnapshot_FullMethodName
	ctx := stream.Context()
	hdr, err := s.t.auth.verify(ctx, method)
	if err != nil {
		return err
	}
	if err := stream.SetHeader(hdr); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	req := new(raft.InstallSnapshotRequest)
	if err := decodeGob(first.GetRequest(), req); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{
		Command:  req,
		Reader:   io.LimitReader(&chunkReader{stream: stream, buf: first.GetData()}, req.Size),
		RespChan: respCh,
	}
	select {
	case s.t.consumeCh <- rpc:
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.t.ctx.Done():
		return status.Error(codes.Unavailable, errTransportClosed.Error())
	}
	select {
	case resp := <-respCh:
		out, err := encodeResponse(resp)
		if err != nil {
			return err
		}
		return stream.SendAndClose(out)
	case <-s.t.ctx.Done():
		return status.Error(codes.Unavailable, errTransportClosed.Error())
	}
}

// chunkReader reads the data of an InstallSnapshot stream.
type chunkReader struct {
	stream controlpb.Raft_InstallSnapshotServer
	buf    []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		msg, err := r.stream.Recv()
		if err != nil {
			return 0, err // io.EOF at the end of the stream
		}
		r.buf = msg.GetData()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
