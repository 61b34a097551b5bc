package partition

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/internal/pkey"
	"github.com/meridiandb/meridian/internal/resource"
	"github.com/meridiandb/meridian/internal/storage"
)

// Get returns the visible version of item id under partition key pk, or
// resource.ErrNotFound. Expired items are not visible.
func (p *Partition) Get(pk pkey.Key, id string) (*Version, error) {
	key := append(pk.Encode(), id...)
	v, err := p.load(key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		p.awaitDurable(p.Horizon()) // the absence may be an unsynced delete
		return nil, resource.ErrNotFound
	}
	p.awaitDurable(v.LSN)
	if v.expired(p.info.Load().DefaultTTL, p.cfg.Clock()) {
		return nil, resource.ErrNotFound
	}
	return v, nil
}

// Scan calls fn with every visible item of the partition whose encoded
// partition key starts with pkPrefix (nil: all items; pkey.Key.Encode for
// one logical partition; pkey.Key.AppendPrefix for a hierarchical-key
// prefix) and whose storage key is greater than after (nil: from the
// start), in key order, until fn returns false.
func (p *Partition) Scan(ctx context.Context, pkPrefix []byte, after []byte, fn func(key []byte, v *Version) bool) error {
	prefix := storage.DocPrefix(p.cfg.ID, pkPrefix)
	lower, upper := prefix, storage.PrefixEnd(prefix)
	if after != nil {
		if string(after) >= string(upper) {
			return nil
		}
		if string(after) >= string(lower) {
			lower = append(append([]byte(nil), after...), 0)
		}
	}
	defTTL := p.info.Load().DefaultTTL
	now := p.cfg.Clock()
	var derr error
	n := 0
	err := p.cfg.DB.Scan(lower, upper, func(k, raw []byte) bool {
		if n++; n%256 == 0 && ctx.Err() != nil {
			derr = ctx.Err()
			return false
		}
		v, err := decodeVersion(raw)
		if err != nil {
			derr = fmt.Errorf("partition %d: %w", p.cfg.ID, err)
			return false
		}
		if v.expired(defTTL, now) {
			return true
		}
		return fn(k, v)
	})
	if err != nil {
		return err
	}
	// What the scan saw must be durable before anyone returns it.
	p.awaitDurable(p.Horizon())
	return derr
}

// Changes returns, in LSN order, the current version of every item changed
// after LSN after (deleted items are not reported, as in Cosmos DB's
// incremental feed), at most max items unless one LSN (a batch) holds more.
// next is the continuation: the LSN to pass as after next time.
func (p *Partition) Changes(ctx context.Context, after int64, max int, keep func(key []byte, v *Version) bool) (vers []*Version, next int64, err error) {
	head := p.applied.Load()
	if after >= head {
		return nil, head, nil
	}
	if max <= 0 {
		max = 100
	}
	defTTL := p.info.Load().DefaultTTL
	now := p.cfg.Clock()
	next = head
	var derr error
	lastLSN := int64(-1)
	err = p.cfg.DB.Scan(storage.ChangeKey(p.cfg.ID, after+1, nil), storage.ChangeKey(p.cfg.ID, head+1, nil), func(k, _ []byte) bool {
		lsn, item := storage.ChangeKeyParts(k)
		if len(vers) >= max && lsn != lastLSN {
			next = lastLSN
			return false
		}
		lastLSN = lsn
		v, err := p.load(item)
		if err != nil {
			derr = err
			return false
		}
		if v == nil || v.LSN != lsn || v.expired(defTTL, now) || (keep != nil && !keep(item, v)) {
			return true
		}
		vers = append(vers, v)
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	if derr != nil {
		return nil, 0, derr
	}
	return vers, next, ctx.Err()
}
