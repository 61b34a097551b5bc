package checker

import (
	"slices"
	"strconv"
	"strings"
)

// Change feed under faults (testing.md F18). A consumer polls the
// container's change feed (latest-version mode: each changed item once, at
// its current version, in LSN order), resuming every poll from the
// continuation (etag) the previous answer gave — across partitions, kills
// and failovers of the regions it reads from. Each poll is an Op of kind
// ChangeFeed: TokenIn the continuation sent, TokenOut the one received,
// BatchKeys the items in the order returned (key, value, _lsn). The last
// polls drain the feed after quiescence.
//
// Rules (CheckChangeFeed):
//   - CF-ORDER: within an answer, LSNs strictly increase, and none exceeds
//     the answer's continuation, nor is at or below the one sent;
//   - CF-CONT: a continuation never goes backwards;
//   - CF-DUP: an item version (key, LSN) is delivered once;
//   - CF-BACK: a key's versions are delivered in increasing LSN order (a
//     resumed consumer never goes back in time);
//   - CF-GAP: after the drain, the last version delivered of every key is
//     its final version (no change was skipped), and a value delivered was
//     written by someone (no phantom).

// ChangeFeed is a change-feed poll.
const ChangeFeed Kind = "changefeed"

// ChangeFeedOptions configures CheckChangeFeed.
type ChangeFeedOptions struct {
	// Final is the converged state after the drain.
	Final         State
	MaxViolations int
}

// Change-feed violation kinds.
const (
	KindCFOrder = "CF-ORDER"
	KindCFCont  = "CF-CONT"
	KindCFDup   = "CF-DUP"
	KindCFBack  = "CF-BACK"
	KindCFGap   = "CF-GAP"
)

// feedLSN reads a change-feed continuation: the quoted decimal LSN of the
// etag ("" = from the beginning, 0).
func feedLSN(etag string) (int64, bool) {
	if etag == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(strings.Trim(etag, `"`), 10, 64)
	return n, err == nil
}

// CheckChangeFeed checks every consumer's polls (see the rules above).
func CheckChangeFeed(h History, opts ChangeFeedOptions) Report {
	rp := newReporter("changefeed", h, opts.MaxViolations)
	ix := newIndex(h)
	type state struct {
		cont      int64
		delivered map[string]int64 // key -> LSN of the last version delivered
		value     map[string]string
		seen      map[string]bool // key \x00 LSN
	}
	consumers := map[int]*state{}
	var order []int
	for i, o := range h.Ops {
		if o.Kind != ChangeFeed || o.Result != OK {
			continue
		}
		st := consumers[o.Client]
		if st == nil {
			st = &state{delivered: map[string]int64{}, value: map[string]string{}, seen: map[string]bool{}}
			consumers[o.Client] = st
			order = append(order, o.Client)
		}
		rp.r.Stats["polls"]++
		in, okIn := feedLSN(o.TokenIn)
		out, okOut := feedLSN(o.TokenOut)
		if !okIn || !okOut {
			rp.violate(KindCFCont, "", []int{i}, "poll op %d: unreadable continuation (sent %q, received %q)", i, o.TokenIn, o.TokenOut)
			continue
		}
		if out < in || out < st.cont {
			rp.violate(KindCFCont, "", []int{i}, "poll op %d: the continuation went back from %d to %d", i, max(in, st.cont), out)
		}
		st.cont = max(st.cont, out)
		prev := in
		for _, kv := range o.BatchKeys {
			rp.r.Stats["items"]++
			if kv.LSN <= prev || kv.LSN > out {
				rp.violate(KindCFOrder, kv.Key, []int{i}, "poll op %d (after %d, continuation %d) returned %s at LSN %d out of order", i, in, out, kv.Key, kv.LSN)
			}
			prev = max(prev, kv.LSN)
			id := kv.Key + "\x00" + strconv.FormatInt(kv.LSN, 10)
			if st.seen[id] {
				rp.violate(KindCFDup, kv.Key, []int{i}, "poll op %d delivered %s at LSN %d again", i, kv.Key, kv.LSN)
				continue
			}
			st.seen[id] = true
			if last, ok := st.delivered[kv.Key]; ok && kv.LSN < last {
				rp.violate(KindCFBack, kv.Key, []int{i}, "poll op %d delivered %s=%s at LSN %d after the consumer had %s at LSN %d: back in time", i, kv.Key, showValue(kv.Value), kv.LSN, showValue(st.value[kv.Key]), last)
			}
			if kv.Value != "" && ix.writeOf(kv.Key, kv.Value) == nil {
				rp.violate(KindCFGap, kv.Key, []int{i}, "poll op %d delivered %s=%s, which no write wrote", i, kv.Key, showValue(kv.Value))
			}
			st.delivered[kv.Key], st.value[kv.Key] = max(st.delivered[kv.Key], kv.LSN), kv.Value
		}
	}
	if len(order) == 0 {
		rp.note("no change-feed poll in the history")
	}
	for _, c := range order {
		st := consumers[c]
		keys := make([]string, 0, len(opts.Final))
		for k := range opts.Final {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f := opts.Final[k]
			if got, ok := st.value[k]; !ok || got != f.Value {
				rp.violate(KindCFGap, k, nil, "consumer %d ended with %s=%s, but the final version is %s (LSN %d): the feed skipped a change", c, k, showValue(got), showValue(f.Value), f.LSN)
			}
		}
	}
	return rp.done()
}
