package repl

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/meridiandb/meridian/api/replpb"
)

// installSnapshot fetches a snapshot of the partition from the sender,
// spools it to a temporary file (the copy's LSN arrives with its last
// chunk, and InstallSnapshot needs it first) and installs it.
func (f *follow) installSnapshot(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nctx, nonce := newNonce(ctx)
	stream, err := f.conn.client.Snapshot(nctx, &replpb.SnapshotRequest{Region: f.r.cfg.Region, Partition: f.partition})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	file, err := os.CreateTemp(f.r.cfg.SpoolDir, "meridian-snapshot-*")
	if err != nil {
		return fmt.Errorf("snapshot spool: %w", err)
	}
	defer func() {
		_ = file.Close()
		_ = os.Remove(file.Name())
	}()
	w := bufio.NewWriterSize(file, 1<<20)
	var (
		lsn, epoch int64
		items      int
		last       bool
		proven     bool
		buf        []byte
	)
	for !last {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("snapshot: %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if !proven {
			if err := checkProof(f.r.cfg.Secret, stream, replpb.Replication_Snapshot_FullMethodName, nonce); err != nil {
				return err
			}
			proven = true
		}
		for _, it := range chunk.Items {
			buf = binary.AppendUvarint(buf[:0], uint64(len(it.Key)))
			buf = append(buf, it.Key...)
			buf = binary.AppendUvarint(buf, uint64(len(it.Value)))
			buf = append(buf, it.Value...)
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("snapshot spool: %w", err)
			}
		}
		items += len(chunk.Items)
		lsn, epoch, last = chunk.Lsn, chunk.Epoch, chunk.Last
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("snapshot spool: %w", err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("snapshot spool: %w", err)
	}
	rd := &spoolReader{r: bufio.NewReaderSize(file, 1<<20)}
	if err := f.app.InstallSnapshot(ctx, lsn, epoch, rd.next); err != nil {
		return fmt.Errorf("install snapshot at %d: %w", lsn, err)
	}
	f.log.Info("snapshot installed", "lsn", lsn, "epoch", epoch, "items", items)
	return nil
}

// spoolReader reads back the items of a spooled snapshot.
type spoolReader struct {
	r          *bufio.Reader
	key, value []byte
}

// next returns the next item; its slices are valid until the next call.
func (s *spoolReader) next() (key, value []byte, ok bool, err error) {
	n, err := binary.ReadUvarint(s.r)
	if errors.Is(err, io.EOF) {
		return nil, nil, false, nil
	}
	if s.key, err = s.read(s.key, n, err); err != nil {
		return nil, nil, false, err
	}
	n, err = binary.ReadUvarint(s.r)
	if s.value, err = s.read(s.value, n, err); err != nil {
		return nil, nil, false, err
	}
	return s.key, s.value, true, nil
}

func (s *spoolReader) read(buf []byte, n uint64, err error) ([]byte, error) {
	if err == nil && n > maxRecvMsgBytes {
		err = errors.New("item too large")
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot spool: %w", err)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(s.r, buf); err != nil {
		return nil, fmt.Errorf("snapshot spool: %w", err)
	}
	return buf, nil
}
