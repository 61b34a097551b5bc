package partition

import (
	"context"
	"errors"
	"time"

	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// purgeChunk bounds the index entries examined per purge round.
const purgeChunk = 1000

// runPurger deletes expired items: each deletion is an ordinary log entry,
// so replicas delete them too. Reads already hide expired items; purging
// reclaims their space and reports them as deleted to replicas.
func (p *Partition) runPurger() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.PurgeInterval)
	defer t.Stop()
	var cursor int64 // resume point in the change index
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		if p.info.Load().DefaultTTL == nil || !p.writable.Load() {
			continue
		}
		var err error
		cursor, err = p.purgeOnce(p.ctx, cursor)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			p.log.Warn("ttl purge failed; will retry", "err", err)
		}
	}
}

// purgeOnce examines up to purgeChunk items after cursor and deletes the
// expired ones. It returns the next cursor (0 once the index is exhausted,
// to start over).
func (p *Partition) purgeOnce(ctx context.Context, cursor int64) (int64, error) {
	info := p.info.Load()
	now := p.cfg.Clock()
	type victim struct {
		key []byte
		lsn int64
	}
	var victims []victim
	next := int64(0)
	n := 0
	var derr error
	err := p.cfg.DB.Scan(storage.ChangeKey(p.cfg.ID, cursor+1, nil), storage.PrefixEnd(storage.ChangePrefix(p.cfg.ID)), func(k, _ []byte) bool {
		lsn, item := storage.ChangeKeyParts(k)
		if n++; n > purgeChunk {
			next = lsn - 1
			return false
		}
		v, err := p.load(item)
		if err != nil {
			derr = err
			return false
		}
		if v != nil && v.LSN == lsn && v.expired(info.DefaultTTL, now) {
			victims = append(victims, victim{key: append([]byte(nil), item...), lsn: lsn})
		}
		return true
	})
	if err != nil {
		return cursor, err
	}
	if derr != nil {
		return cursor, derr
	}
	if len(victims) == 0 {
		return next, nil
	}
	ops := make([]Op, len(victims))
	for i, v := range victims {
		ops[i] = Op{Kind: expire, key: v.key, expectLSN: v.lsn}
	}
	res, err := p.Batch(ctx, ops, false)
	if err != nil {
		return cursor, err
	}
	for _, r := range res {
		if r.Err != nil && !errors.Is(r.Err, resource.ErrPreconditionFailed) {
			return cursor, r.Err
		}
	}
	return next, nil
}
