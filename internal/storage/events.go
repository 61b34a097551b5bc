package storage

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// stallStats counts Pebble's write stalls: while one lasts, every commit
// (a client write, a replicated batch) waits for a flush or an L0
// compaction, and that shows up as a latency spike with no other cause.
type stallStats struct {
	count atomic.Int64
	nanos atomic.Int64
	begun atomic.Int64 // unix nanos of the current stall's start, 0 if none
}

// eventListener logs what Pebble does in the background: stalls and slow
// disk operations at WARN (an operator should see them), flushes and
// compactions at DEBUG (their timing is what a latency trace is read
// against).
func eventListener(log *slog.Logger, st *stallStats) *pebble.EventListener {
	return &pebble.EventListener{
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			st.begun.Store(time.Now().UnixNano())
			st.count.Add(1)
			log.Warn("storage: write stall began: commits wait", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			var d time.Duration
			if b := st.begun.Swap(0); b != 0 {
				d = time.Duration(time.Now().UnixNano() - b)
				st.nanos.Add(int64(d))
			}
			log.Warn("storage: write stall ended", "duration", d)
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			log.Warn("storage: slow disk operation", "path", info.Path, "op", info.OpType.String(), "duration", info.Duration)
		},
		FlushEnd: func(info pebble.FlushInfo) {
			if info.Err != nil {
				log.Error("storage: flush failed", "err", info.Err)
				return
			}
			log.Debug("storage: flushed memtable", "duration", info.TotalDuration, "bytes", info.InputBytes)
		},
		CompactionEnd: func(info pebble.CompactionInfo) {
			if info.Err != nil {
				log.Error("storage: compaction failed", "err", info.Err)
				return
			}
			log.Debug("storage: compacted", "reason", info.Reason, "duration", info.TotalDuration)
		},
		BackgroundError: func(err error) {
			log.Error("storage: background error", "err", err)
		},
	}
}
