package storage

import "encoding/binary"

// The control plane's Raft keyspace (internal/raftnode): the replicated
// log and the stable store (current term, last vote) of the region's Raft
// node. One region runs one control-plane node, so the keyspace holds a
// single group.
//
//	'R' 'l' index                 Raft log entries, by index (8 bytes, big-endian)
//	'R' 's' name                  Raft stable-store values
const (
	tagRaft       = 'R'
	raftSubLog    = 'l'
	raftSubStable = 's'
)

// RaftLogKey is the key of the Raft log entry at index.
func RaftLogKey(index uint64) []byte {
	b := make([]byte, 2, 10)
	b[0], b[1] = tagRaft, raftSubLog
	return binary.BigEndian.AppendUint64(b, index)
}

// RaftLogPrefix bounds the Raft log: [RaftLogPrefix, PrefixEnd(RaftLogPrefix)).
func RaftLogPrefix() []byte { return []byte{tagRaft, raftSubLog} }

// RaftLogIndex decodes the index of a RaftLogKey.
func RaftLogIndex(key []byte) uint64 { return binary.BigEndian.Uint64(key[2:10]) }

// RaftStableKey is the key of the Raft stable-store value name.
func RaftStableKey(name []byte) []byte {
	return append([]byte{tagRaft, raftSubStable}, name...)
}
