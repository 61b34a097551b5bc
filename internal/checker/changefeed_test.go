package checker

import "testing"

func poll(c int, in, out string, call int64, kvs ...KV) Op {
	return Op{Client: c, Region: "B", Kind: ChangeFeed, TokenIn: in, TokenOut: out, Call: call, Return: call + 1, Result: OK, BatchKeys: kvs}
}

func TestChangeFeed(t *testing.T) {
	writes := []Op{wr(1, "x", "1", 0, 1, 1), wr(1, "y", "2", 2, 3, 2), wr(1, "x", "3", 4, 5, 3)}
	final := State{"x": {Value: "3", LSN: 3}, "y": {Value: "2", LSN: 2}}
	good := append(append([]Op{}, writes...),
		poll(9, "", `"1"`, 10, KV{"x", "1", 1}),
		poll(9, `"1"`, `"3"`, 20, KV{"y", "2", 2}, KV{"x", "3", 3}),
		poll(9, `"3"`, `"3"`, 30))
	mustPass(t, CheckChangeFeed(hist(good...), ChangeFeedOptions{Final: final}))

	for name, c := range map[string]struct {
		polls []Op
		kind  string
	}{
		"order":               {[]Op{poll(9, "", `"3"`, 10, KV{"x", "3", 3}, KV{"y", "2", 2})}, KindCFOrder},
		"beyond-continuation": {[]Op{poll(9, "", `"2"`, 10, KV{"y", "2", 2}, KV{"x", "3", 3})}, KindCFOrder},
		"cont-back":           {[]Op{poll(9, "", `"3"`, 10, KV{"y", "2", 2}, KV{"x", "3", 3}), poll(9, `"3"`, `"2"`, 20)}, KindCFCont},
		"dup":                 {[]Op{poll(9, "", `"3"`, 10, KV{"y", "2", 2}, KV{"x", "3", 3}), poll(9, `"1"`, `"3"`, 20, KV{"x", "3", 3})}, KindCFDup},
		"back":                {[]Op{poll(9, "", `"3"`, 10, KV{"y", "2", 2}, KV{"x", "3", 3}), poll(9, "", `"1"`, 20, KV{"x", "1", 1})}, KindCFBack},
		"gap":                 {[]Op{poll(9, "", `"3"`, 10, KV{"x", "3", 3})}, KindCFGap},
	} {
		t.Run(name, func(t *testing.T) {
			r := CheckChangeFeed(hist(append(append([]Op{}, writes...), c.polls...)...), ChangeFeedOptions{Final: final})
			if r.OK {
				t.Fatalf("expected %s, passed", c.kind)
			}
			found := false
			for _, k := range r.Kinds() {
				found = found || k == c.kind
			}
			if !found {
				t.Fatalf("expected %s, got %v:\n%s", c.kind, r.Kinds(), r)
			}
		})
	}
}
