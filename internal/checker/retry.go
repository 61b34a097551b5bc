package checker

import (
	"cmp"
	"slices"
)

// Retry storms (testing.md F19). Clients time out after a tenth of a round
// trip and retry the same non-idempotent request until it is answered:
// increments of a private counter (PATCH incr with If-Match on the etag
// read before) and creates of unique ids. A retry of a request that was
// applied must fail its precondition (412 for the increment, 409 for the
// create), so each logical operation applies exactly once, and the client
// can tell: a 412/409 after an attempt in doubt means "applied".
//
// Rules (CheckRetries):
//   - RETRY-DUP: an item changed more often than its client's operations
//     that may have applied (concluded applied + still in doubt);
//   - RETRY-LOST: less often than those it concluded applied;
//   - RETRY-PRECOND: a 412 or 409 with no earlier attempt in doubt (a
//     precondition failed that nobody else could have broken).

// RetryOutcome is what one client concluded about one item.
type RetryOutcome struct {
	Key string
	// Applied counts operations concluded applied (2xx, or 412/409 after an
	// attempt in doubt); InDoubt those never concluded (the run ended).
	Applied, InDoubt int64
	// Spurious counts 412/409 answers without an attempt in doubt.
	Spurious int64
}

// Retry violation kinds.
const (
	KindRetryDup     = "RETRY-DUP"
	KindRetryLost    = "RETRY-LOST"
	KindRetryPrecond = "RETRY-PRECOND"
)

// CheckRetries compares each item's final count of applied changes (final:
// the counter's value, or 1 for a created id that exists, 0 otherwise)
// with what its client concluded.
func CheckRetries(outcomes []RetryOutcome, final map[string]int64) Report {
	rp := newReporter("retries", History{}, 0)
	slices.SortFunc(outcomes, func(a, b RetryOutcome) int { return cmp.Compare(a.Key, b.Key) })
	for _, o := range outcomes {
		rp.r.Stats["items"]++
		rp.r.Stats["applied"] += o.Applied
		rp.r.Stats["in_doubt"] += o.InDoubt
		f := final[o.Key]
		switch {
		case f > o.Applied+o.InDoubt:
			rp.violate(KindRetryDup, o.Key, nil, "%s changed %d times, but its client concluded %d applied and %d in doubt: a retried request applied twice", o.Key, f, o.Applied, o.InDoubt)
		case f < o.Applied:
			rp.violate(KindRetryLost, o.Key, nil, "%s changed %d times, but its client was told %d were applied", o.Key, f, o.Applied)
		}
		if o.Spurious > 0 {
			rp.violate(KindRetryPrecond, o.Key, nil, "%s: %d precondition failures (412/409) with no earlier attempt in doubt", o.Key, o.Spurious)
		}
	}
	return rp.done()
}
