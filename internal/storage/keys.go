package storage

import "encoding/binary"

// Key layout. Every key starts with a one-byte keyspace tag. Partition
// keyspaces continue with the partition id (8 bytes, big-endian) so that a
// partition's data is one contiguous range per keyspace and a dropped
// container is removed with one DeleteRange per keyspace.
//
//	'K' name                      catalog records (internal/catalog)
//	'D' pid pk id                 item documents (pk is pkey.Key.Encode(), prefix-free)
//	'L' pid lsn                   replication log entries, by LSN
//	'C' pid lsn pk id             change-feed index: one key per item, at the LSN of its current version
//	'M' pid name                  partition metadata (applied LSN, epoch history, ...)
//	'X' pid id                    the container's conflicts feed
//	'T' pid pk id                 multi-write tombstones: the resolver metadata of a deleted item
const (
	tagCatalog   = 'K'
	tagDoc       = 'D'
	tagLog       = 'L'
	tagChange    = 'C'
	tagPartition = 'M'
	tagConflict  = 'X'
	tagTomb      = 'T'
)

// PartitionTags lists the per-partition keyspaces, for range deletion.
var PartitionTags = []byte{tagDoc, tagLog, tagChange, tagPartition, tagConflict, tagTomb}

// TombKey is the key of the tombstone of item key (pk then id) in
// partition pid (multi-region writes).
func TombKey(pid uint64, key []byte) []byte {
	return append(partitionPrefix(tagTomb, pid), key...)
}

// ConflictKey is the key of a conflict record in partition pid.
func ConflictKey(pid uint64, id []byte) []byte {
	return append(partitionPrefix(tagConflict, pid), id...)
}

// ConflictPrefix bounds the conflicts of partition pid.
func ConflictPrefix(pid uint64) []byte { return partitionPrefix(tagConflict, pid) }

// CatalogKey is the key of a catalog record.
func CatalogKey(name string) []byte { return append([]byte{tagCatalog}, name...) }

// CatalogPrefix bounds the catalog keyspace: [CatalogPrefix, PrefixEnd(CatalogPrefix)).
func CatalogPrefix() []byte { return []byte{tagCatalog} }

func partitionPrefix(tag byte, pid uint64) []byte {
	b := make([]byte, 9, 32)
	b[0] = tag
	binary.BigEndian.PutUint64(b[1:], pid)
	return b
}

// DocKey is the key of item id with encoded partition key pk in partition pid.
func DocKey(pid uint64, pk []byte, id string) []byte {
	b := partitionPrefix(tagDoc, pid)
	b = append(b, pk...)
	return append(b, id...)
}

// DocPrefix bounds all items of partition pid, or of one logical partition
// when pk is not nil.
func DocPrefix(pid uint64, pk []byte) []byte {
	return append(partitionPrefix(tagDoc, pid), pk...)
}

// DocSuffix returns the part of a DocKey after the partition prefix (pk+id).
func DocSuffix(key []byte) []byte { return key[9:] }

// LogKey is the key of the log entry at lsn in partition pid.
func LogKey(pid uint64, lsn int64) []byte {
	return binary.BigEndian.AppendUint64(partitionPrefix(tagLog, pid), uint64(lsn))
}

// LogPrefix bounds the log of partition pid.
func LogPrefix(pid uint64) []byte { return partitionPrefix(tagLog, pid) }

// ChangeKey is the change-feed index key of the item whose DocSuffix is
// item, at the LSN of its current version. A nil item gives the first key
// at lsn, for range scans.
func ChangeKey(pid uint64, lsn int64, item []byte) []byte {
	b := binary.BigEndian.AppendUint64(partitionPrefix(tagChange, pid), uint64(lsn))
	return append(b, item...)
}

// ChangeKeyParts splits a ChangeKey into its LSN and item suffix.
func ChangeKeyParts(key []byte) (lsn int64, item []byte) {
	return int64(binary.BigEndian.Uint64(key[9:17])), key[17:]
}

// ChangePrefix bounds the change-feed index of partition pid.
func ChangePrefix(pid uint64) []byte { return partitionPrefix(tagChange, pid) }

// LSNFromKey decodes the LSN at the end of a LogKey.
func LSNFromKey(key []byte) int64 {
	return int64(binary.BigEndian.Uint64(key[len(key)-8:]))
}

// MetaKey is a partition metadata record.
func MetaKey(pid uint64, name string) []byte {
	return append(partitionPrefix(tagPartition, pid), name...)
}

// LogEnd is the upper bound of the log of partition pid.
func LogEnd(pid uint64) []byte { return PrefixEnd(LogPrefix(pid)) }

// PartitionRange returns [start, end) of keyspace tag for partition pid.
func PartitionRange(tag byte, pid uint64) (start, end []byte) {
	p := partitionPrefix(tag, pid)
	return p, PrefixEnd(p)
}

// PrefixEnd returns the smallest key greater than every key with prefix p.
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}
