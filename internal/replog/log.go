package replog

import (
	"fmt"

	"github.com/meridiandb/meridian/internal/storage"
)

// Append adds e to batch b under partition pid. It is committed with the
// document changes it describes.
func Append(b *storage.Batch, pid uint64, e *Entry) {
	b.Set(storage.LogKey(pid, e.LSN), e.Encode(nil))
}

// Read calls fn for each entry of partition pid with LSN > after, in LSN
// order, until fn returns false or max entries (if > 0) were read.
func Read(db *storage.DB, pid uint64, after int64, max int, fn func(*Entry) bool) error {
	end := storage.LogEnd(pid)
	var derr error
	n := 0
	err := db.Scan(storage.LogKey(pid, after+1), end, func(k, v []byte) bool {
		e, err := Decode(append([]byte(nil), v...))
		if err != nil {
			derr = fmt.Errorf("read log %d@%d: %w", pid, storage.LSNFromKey(k), err)
			return false
		}
		n++
		return fn(e) && (max <= 0 || n < max)
	})
	if err != nil {
		return err
	}
	return derr
}

// First returns the lowest LSN still in the log of pid, or 0 if it is empty.
func First(db *storage.DB, pid uint64) (int64, error) {
	start, end := storage.LogPrefix(pid), storage.LogEnd(pid)
	var lsn int64
	err := db.Scan(start, end, func(k, _ []byte) bool {
		lsn = storage.LSNFromKey(k)
		return false
	})
	return lsn, err
}

// Trim deletes the entries of pid with LSN < floor.
func Trim(b *storage.Batch, pid uint64, floor int64) {
	if floor <= 1 {
		return
	}
	b.DeleteRange(storage.LogKey(pid, 0), storage.LogKey(pid, floor))
}
