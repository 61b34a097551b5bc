package raftnode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/internal/storage"
)

// errKeyNotFound is what the stable store returns for a missing key.
// hashicorp/raft compares the message with "not found", so the usual
// package prefix cannot be used.
var errKeyNotFound = errors.New("not found")

// logFormat is the version byte of an encoded log entry.
const logFormat = 1

// store is raft's LogStore and StableStore on the region's Pebble
// database, keyspace 'R'. Every write is one batch committed with a
// synced WAL.
type store struct {
	db *storage.DB

	// mu serializes writers and guards first and last, the cached bounds
	// of the log (0, 0 when empty; valid once loaded is set).
	mu          sync.Mutex
	loaded      bool
	first, last uint64
}

var (
	_ raft.LogStore          = (*store)(nil)
	_ raft.StableStore       = (*store)(nil)
	_ raft.MonotonicLogStore = (*store)(nil)
)

func newStore(db *storage.DB) *store { return &store{db: db} }

// IsMonotonic tells raft to delete the whole log after restoring a
// snapshot instead of leaving a gap; the log has no gaps.
func (s *store) IsMonotonic() bool { return true }

// boundsLocked loads the log bounds. s.mu is held.
func (s *store) boundsLocked() error {
	if s.loaded {
		return nil
	}
	p := storage.RaftLogPrefix()
	end := storage.PrefixEnd(p)
	var first, last uint64
	if err := s.db.Scan(p, end, func(k, _ []byte) bool {
		first = storage.RaftLogIndex(k)
		return false
	}); err != nil {
		return fmt.Errorf("raft log first index: %w", err)
	}
	if err := s.db.ScanReverse(p, end, func(k, _ []byte) bool {
		last = storage.RaftLogIndex(k)
		return false
	}); err != nil {
		return fmt.Errorf("raft log last index: %w", err)
	}
	s.first, s.last, s.loaded = first, last, true
	return nil
}

// FirstIndex returns the first index in the log, 0 if it is empty.
func (s *store) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.boundsLocked(); err != nil {
		return 0, err
	}
	return s.first, nil
}

// LastIndex returns the last index in the log, 0 if it is empty.
func (s *store) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.boundsLocked(); err != nil {
		return 0, err
	}
	return s.last, nil
}

// GetLog reads the entry at index into l, or returns raft.ErrLogNotFound.
func (s *store) GetLog(index uint64, l *raft.Log) error {
	v, err := s.db.Get(storage.RaftLogKey(index))
	if errors.Is(err, storage.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raft log get %d: %w", index, err)
	}
	if err := decodeLog(v, l); err != nil {
		return fmt.Errorf("raft log entry %d: %w", index, err)
	}
	l.Index = index
	return nil
}

// StoreLog stores one entry.
func (s *store) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores entries durably in one synced batch.
func (s *store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.boundsLocked(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	first, last := s.first, s.last
	for _, l := range logs {
		b.Set(storage.RaftLogKey(l.Index), encodeLog(l))
		if first == 0 || l.Index < first {
			first = l.Index
		}
		last = max(last, l.Index)
	}
	if err := b.Commit(true /* sync */); err != nil {
		return fmt.Errorf("raft log store: %w", err)
	}
	s.first, s.last = first, last
	return nil
}

// DeleteRange deletes the entries in [lo, hi], durably.
func (s *store) DeleteRange(lo, hi uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.boundsLocked(); err != nil {
		return err
	}
	end := storage.PrefixEnd(storage.RaftLogPrefix())
	if hi < math.MaxUint64 {
		end = storage.RaftLogKey(hi + 1)
	}
	b := s.db.NewBatch()
	defer b.Close()
	b.DeleteRange(storage.RaftLogKey(lo), end)
	if err := b.Commit(true /* sync */); err != nil {
		return fmt.Errorf("raft log delete [%d, %d]: %w", lo, hi, err)
	}
	// Reload the bounds lazily (two seeks) rather than assume the log has
	// no gaps.
	s.loaded = false
	return nil
}

// Set stores a stable-store value durably.
func (s *store) Set(key, val []byte) error {
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(storage.RaftStableKey(key), val)
	if err := b.Commit(true /* sync */); err != nil {
		return fmt.Errorf("raft stable set %q: %w", key, err)
	}
	return nil
}

// Get returns a stable-store value, or errKeyNotFound.
func (s *store) Get(key []byte) ([]byte, error) {
	v, err := s.db.Get(storage.RaftStableKey(key))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("raft stable get %q: %w", key, err)
	}
	return v, nil
}

// SetUint64 stores a stable-store integer durably.
func (s *store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns a stable-store integer, 0 if it is missing.
func (s *store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if errors.Is(err, errKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raft stable %q: %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// encodeLog encodes an entry without its index (which is in the key):
//
//	format(1) type(1) term(8) appendedAt(8, unix nanos, 0 = zero time)
//	uvarint len(data) data  uvarint len(extensions) extensions
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 18+len(l.Data)+len(l.Extensions)+2*binary.MaxVarintLen64)
	b = append(b, logFormat, byte(l.Type))
	b = binary.BigEndian.AppendUint64(b, l.Term)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	return append(b, l.Extensions...)
}

var errBadLog = errors.New("raftnode: malformed log entry")

func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < 18 || b[0] != logFormat {
		return errBadLog
	}
	l.Type = raft.LogType(b[1])
	l.Term = binary.BigEndian.Uint64(b[2:10])
	l.AppendedAt = time.Time{}
	if at := int64(binary.BigEndian.Uint64(b[10:18])); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	rest := b[18:]
	var ok bool
	if l.Data, rest, ok = lengthPrefixed(rest); !ok {
		return errBadLog
	}
	if l.Extensions, rest, ok = lengthPrefixed(rest); !ok || len(rest) != 0 {
		return errBadLog
	}
	return nil
}

// lengthPrefixed splits a uvarint-length-prefixed field off b. An empty
// field decodes as nil.
func lengthPrefixed(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	if n == 0 {
		return nil, b[k:], true
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
