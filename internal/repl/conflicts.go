package repl

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/api/replpb"
	"github.com/meridiandb/meridian/internal/peerconn"
)

// ConflictRecord is one conflicts-feed record a returning deposed write
// region hands to the new write region.
type ConflictRecord struct {
	ID   string
	JSON []byte
}

// ConflictSink is implemented by Sources that accept conflict records (the
// write region): PublishConflicts adds them to the partition's feed,
// idempotently by id.
type ConflictSink interface {
	PublishConflicts(ctx context.Context, partition uint64, records []ConflictRecord) error
}

// maxConflictRecords bounds one PublishConflicts call (the caller splits).
const maxConflictRecords = 256

// PublishConflicts serves a returning region's conflict records.
func (s *Service) PublishConflicts(ctx context.Context, req *replpb.PublishConflictsRequest) (*replpb.PublishConflictsResponse, error) {
	if !s.enter() {
		return nil, errServiceClosed
	}
	defer s.wg.Done()
	peer, err := s.authenticate(ctx, replpb.Replication_PublishConflicts_FullMethodName)
	if err != nil {
		return nil, err
	}
	if req.Region != peer {
		return nil, status.Errorf(codes.PermissionDenied, "repl: credential of region %q used for region %q", peer, req.Region)
	}
	sink, ok := s.src.(ConflictSink)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "repl: this region keeps no conflicts feed")
	}
	if len(req.Records) > maxConflictRecords {
		return nil, status.Errorf(codes.InvalidArgument, "repl: %d records in one call (at most %d)", len(req.Records), maxConflictRecords)
	}
	recs := make([]ConflictRecord, len(req.Records))
	for i, r := range req.Records {
		if r.GetId() == "" || len(r.GetJson()) == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "repl: record %d has no id or body", i)
		}
		recs[i] = ConflictRecord{ID: r.Id, JSON: r.Json}
	}
	if err := sink.PublishConflicts(ctx, req.Partition, recs); err != nil {
		return nil, toStatus(fmt.Errorf("publish conflicts of partition %d: %w", req.Partition, err))
	}
	s.log.Info("conflicts published for a returning region", "peer", peer, "partition", req.Partition, "records", len(recs))
	return &replpb.PublishConflictsResponse{}, nil
}

// PublishConflicts sends records for partition to the write region
// peerRegion at addr, in calls of at most maxConflictRecords. cfg is this
// region's replication config (name, secret, dialer).
func PublishConflicts(ctx context.Context, cfg Config, peerRegion, addr string, partition uint64, records []ConflictRecord) error {
	cfg.Defaults()
	cc, err := peerconn.New(peerRegion, addr, peerconn.Dialer(cfg.Dial),
		peerconn.Options{MaxBackoff: max(cfg.MaxBackoff, minBackoff), MaxRecvMsgBytes: maxRecvMsgBytes},
		grpc.WithPerRPCCredentials(perRPCCredential{region: cfg.Region, secret: append([]byte(nil), cfg.Secret...), clock: cfg.Clock}))
	if err != nil {
		return fmt.Errorf("publish conflicts: client for %s: %w", peerRegion, err)
	}
	defer func() { _ = cc.Close() }()
	client := replpb.NewReplicationClient(cc)
	for len(records) > 0 {
		n := min(len(records), maxConflictRecords)
		req := &replpb.PublishConflictsRequest{Region: cfg.Region, Partition: partition}
		for _, r := range records[:n] {
			req.Records = append(req.Records, &replpb.ConflictRecord{Id: r.ID, Json: r.JSON})
		}
		if _, err := client.PublishConflicts(ctx, req, grpc.WaitForReady(true)); err != nil {
			return fmt.Errorf("publish conflicts of partition %d to %s: %w", partition, peerRegion, err)
		}
		records = records[n:]
	}
	return nil
}
