package checker

import "testing"

// The two batches of CP-A2/CP-F1: T1{a=1,b=1} then T2{a=2,b=2}.
func twoBatches() []Op {
	return []Op{
		batch(1, 0, 10, 1, KV{Key: "a", Value: "1"}, KV{Key: "b", Value: "1"}),
		batch(1, 20, 30, 2, KV{Key: "a", Value: "2"}, KV{Key: "b", Value: "2"}),
	}
}

func TestPrefixAllowed(t *testing.T) {
	for name, h := range map[string]History{
		// CP-A2: ⊥⊥, 11, 22.
		"CP-A2": hist(append(twoBatches(),
			query(2, "B", 5, 6, KV{Key: "a"}, KV{Key: "b"}),
			query(2, "B", 40, 41, KV{Key: "a", Value: "1"}, KV{Key: "b", Value: "1"}),
			query(2, "B", 42, 43, KV{Key: "a", Value: "2"}, KV{Key: "b", Value: "2"}))...),
		// A newer single write to b after T1: (1, 3) is not torn.
		"newer": hist(append(twoBatches()[:1], wr(3, "b", "3", 12, 14, 2),
			query(2, "B", 40, 41, KV{Key: "a", Value: "1"}, KV{Key: "b", Value: "3"}))...),
		// CP-A1 / EV-A1: reads may go back, even to ⊥.
		"EV-A1": hist(wr(1, "x", "1", 0, 1, 1), wr(1, "x", "2", 2, 3, 2),
			rd(2, "B", "Eventual", "x", "2", 4, 5), rd(2, "B", "Eventual", "x", "1", 6, 7), rd(2, "B", "Eventual", "x", "", 8, 9)),
		// A value of a write of unknown outcome.
		"unknown": hist(unknown(wr(1, "x", "1", 0, 1, 0)), rd(2, "B", "Eventual", "x", "1", 4, 5)),
		// A value of a failed write: counted, not a violation by default.
		"failed": hist(failed(wr(1, "x", "1", 0, 1, 0)), rd(2, "B", "Eventual", "x", "1", 4, 5)),
		// A value read while its write was in flight.
		"concurrent": hist(wr(1, "x", "1", 0, 10, 1), rd(2, "B", "Eventual", "x", "1", 4, 5)),
	} {
		t.Run(name, func(t *testing.T) {
			mustPass(t, CheckPrefix(h, PrefixOptions{}))
		})
	}
}

func TestPrefixForbidden(t *testing.T) {
	cases := []struct {
		name string
		h    History
		opts PrefixOptions
		kind string
	}{
		{"CP-F1-12", hist(append(twoBatches(), query(2, "B", 40, 41, KV{Key: "a", Value: "1"}, KV{Key: "b", Value: "2"}))...), PrefixOptions{}, KindTornBatch},
		{"CP-F1-21", hist(append(twoBatches(), query(2, "B", 40, 41, KV{Key: "a", Value: "2"}, KV{Key: "b", Value: "1"}))...), PrefixOptions{}, KindTornBatch},
		{"CP-F1-half", hist(append(twoBatches()[:1], query(2, "B", 40, 41, KV{Key: "a"}, KV{Key: "b", Value: "1"}))...), PrefixOptions{}, KindTornBatch},
		// Without LSNs, by real time.
		{"CP-F1-realtime", hist(with(twoBatches()[0], func(o *Op) { o.LSN = 0 }), with(twoBatches()[1], func(o *Op) { o.LSN = 0 }),
			query(2, "B", 40, 41, KV{Key: "a", Value: "2"}, KV{Key: "b", Value: "1"})), PrefixOptions{}, KindTornBatch},
		// EV-F1: a value nobody wrote.
		{"EV-F1", hist(wr(1, "x", "1", 0, 1, 1), rd(2, "B", "Eventual", "x", "7", 4, 5)), PrefixOptions{}, KindPhantom},
		// A value of another key.
		{"EV-F1-key", hist(wr(1, "y", "7", 0, 1, 1), rd(2, "B", "Eventual", "x", "7", 4, 5)), PrefixOptions{}, KindPhantom},
		// A value from the future.
		{"EV-F1-future", hist(rd(2, "B", "Eventual", "x", "1", 0, 1), wr(1, "x", "1", 4, 5, 1)), PrefixOptions{}, KindPhantom},
		// In a query.
		{"EV-F1-query", hist(query(2, "B", 0, 1, KV{Key: "x", Value: "9"})), PrefixOptions{}, KindPhantom},
		// StrictFailed.
		{"failed-strict", hist(failed(wr(1, "x", "1", 0, 1, 0)), rd(2, "B", "Eventual", "x", "1", 4, 5)), PrefixOptions{StrictFailed: true}, KindPhantom},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, CheckPrefix(c.h, c.opts), c.kind)
		})
	}
}
