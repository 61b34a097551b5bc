package checker

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func sampleHistory() History {
	return History{
		Ops: []Op{
			{Client: 3, Region: "r2", Level: "Session", Kind: Write, Partition: "0", Key: "k7", Value: "3:118", Call: 10, Return: 20, Result: OK,
				LSN: 42, Epoch: 1, Applied: 43, TokenIn: "0:1#40", TokenOut: "0:1#42", ServedBy: "r2/1"},
			{Client: 4, Region: "r1", Level: "Strong", Kind: Read, Key: "k7", Value: "3:118", Call: 21, Return: 22, Result: OK},
			{Client: 5, Kind: Delete, Key: "k7", Call: 30, Return: 40, Result: Unknown, Err: "408/20001"},
			{Client: 6, Kind: Batch, Call: 50, Return: 60, Result: OK, LSN: 44, BatchKeys: []KV{{Key: "a", Value: "6:1"}, {Key: "b", Value: "6:1"}}},
			{Client: 7, Level: "Eventual", Kind: Query, Call: 61, Return: 62, Result: OK, BatchKeys: []KV{{Key: "a", Value: "6:1", LSN: 44}, {Key: "b"}}},
			{Client: 8, Kind: Read, Key: "k7", Call: 63, Return: 64, Result: Fail, Err: "404/1002"},
		},
		Events: []Event{{Tag: "nemesis", Text: "partition r1|r2,r3", Start: 5, End: 35}, {Text: "kill r2/1", Start: 36}},
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	h := sampleHistory()
	var buf bytes.Buffer
	if err := h.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(h.Ops)+len(h.Events) {
		t.Fatalf("%d lines for %d ops and %d events", n, len(h.Ops), len(h.Events))
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, h)
	}
	if v := Validate(h); len(v) != 0 {
		t.Fatalf("sample history invalid: %v", v)
	}
}

// TestDecodeFormat pins the line format of testing.md §3.1 and its aliases.
func TestDecodeFormat(t *testing.T) {
	in := `{"client":3,"region":"r2","level":"Session","op":"put","key":"k7","value":"3:118","call_ns":1,"return_ns":2,"result":"ok","lsn":9,"epoch":1,"token_in":"","token_out":"0:1#9","served_by":"r2","applied_lsn":9,"committed_lsn":9,"hlc":"x"}

{"client":4,"op":"get","key":"k7","call_ns":3,"return_ns":4,"result":"ok"}
{"event":"heal","start_ns":5}
`
	h, err := Decode(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Ops) != 2 || h.Ops[0].Kind != Write || h.Ops[1].Kind != Read || h.Ops[0].TokenOut != "0:1#9" || len(h.Events) != 1 || h.Events[0].Text != "heal" {
		t.Fatalf("decoded %+v", h)
	}
	var out bytes.Buffer
	if err := h.Encode(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"op":"write"`) || !strings.Contains(out.String(), `"call_ns":1`) {
		t.Fatalf("encoded %s", out.String())
	}
	for _, bad := range []string{
		`{"client":1,"op":"frob","call_ns":1,"return_ns":2,"result":"ok"}`,
		`{"client":1,"op":"get","call_ns":1,"return_ns":2,"result":"maybe"}`,
		`{"client":1,"call_ns":1,"return_ns":2,"result":"ok"}`,
		`{"client":1,"op":"get","call_ns":1,"return_ns":2}`,
		`{"client":1,"op":"get","call_ns":1.5,"return_ns":2,"result":"ok"}`,
		`{"client":1,`,
		`[1,2]`,
		"{\"client\":1,\"op\":\"get\",\"key\":\"" + strings.Repeat("x", MaxLine) + "\"}",
	} {
		if _, err := Decode(strings.NewReader("\n" + bad + "\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("Decode(%.60q) = %v, want an error naming line 2", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]History{
		"overlap":       hist(wr(1, "x", "1", 0, 10, 1), rd(1, "A", "Strong", "x", "1", 5, 15)),
		"dup-value":     hist(wr(1, "x", "1", 0, 10, 1), wr(2, "x", "1", 20, 30, 2)),
		"dup-lsn":       hist(wr(1, "x", "1", 0, 10, 5), wr(2, "y", "1", 20, 30, 5)),
		"time":          hist(wr(1, "x", "1", 10, 5, 1)),
		"no-key":        hist(wr(1, "", "1", 0, 5, 1)),
		"empty-batch":   hist(batch(1, 0, 5, 1)),
		"delete-value":  hist(with(del(1, "x", 0, 5, 1), func(o *Op) { o.Value = "v" })),
		"bad-kind":      hist(with(wr(1, "x", "1", 0, 5, 1), func(o *Op) { o.Kind = "frob" })),
		"bad-result":    hist(with(wr(1, "x", "1", 0, 5, 1), func(o *Op) { o.Result = "" })),
		"dup-batch-val": hist(batch(1, 0, 5, 1, KV{Key: "a", Value: "1"}, KV{Key: "a", Value: "1"})),
	}
	for name, h := range cases {
		if v := Validate(h); len(v) == 0 || v[0].Kind != KindHistory {
			t.Errorf("%s: Validate = %v", name, v)
		}
	}
	// Fine: same value on different keys, sequential ops, the same LSN in
	// two epochs, an unknown op followed by another of the same client.
	ok := hist(wr(1, "x", "1", 0, 10, 1), wr(1, "y", "1", 10, 20, 2), with(wr(2, "z", "1", 20, 30, 1), func(o *Op) { o.Epoch = 2 }),
		unknown(wr(3, "x", "2", 0, 5, 0)), rd(3, "A", "Strong", "x", "2", 6, 7))
	if v := Validate(ok); len(v) != 0 {
		t.Errorf("Validate(ok) = %v", v)
	}
}

func TestRecorder(t *testing.T) {
	rec := NewRecorder()
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 50; n++ {
				p, err := rec.Begin(Op{Client: c, Kind: Write, Key: fmt.Sprintf("k%d", n%3), Value: fmt.Sprintf("%d:%d", c, n), Level: "Strong"})
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Microsecond)
				p.End(func(o *Op) { o.Result = OK })
			}
		}()
	}
	start := rec.Now()
	rec.Annotate("nemesis", "pause", start, 0)
	wg.Wait()
	h := rec.History()
	if len(h.Ops) != 400 || len(h.Events) != 1 || rec.Outstanding() != 0 {
		t.Fatalf("%d ops, %d events, %d outstanding", len(h.Ops), len(h.Events), rec.Outstanding())
	}
	if v := Validate(h); len(v) != 0 {
		t.Fatalf("recorded history invalid: %v", v[0])
	}
	for _, o := range h.Ops {
		if o.Return < o.Call || o.Call < 0 {
			t.Fatalf("bad stamps %+v", o)
		}
	}
	// One outstanding op per client.
	p, err := rec.Begin(Op{Client: 1, Kind: Read, Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Begin(Op{Client: 1, Kind: Read, Key: "k"}); err == nil {
		t.Fatal("a second outstanding op for client 1 was accepted")
	}
	i := p.End(func(o *Op) { o.Result = Fail })
	if j := p.End(nil); j != i {
		t.Fatalf("End twice: %d then %d", i, j)
	}
	if _, err := rec.Begin(Op{Client: 1, Kind: Read, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if idx := rec.Add(Op{Client: 9, Kind: Read, Key: "k", Call: rec.Now(), Return: rec.Now(), Result: OK}); idx != 401 {
		t.Fatalf("Add index %d", idx)
	}
}

func TestReportWriteJSON(t *testing.T) {
	r := CheckLinearizable(hist(wr(1, "x", "1", 0, 10, 1), rd(2, "B", "Strong", "x", "", 12, 14)), StrongOptions{})
	p, err := r.WriteJSON(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p, "strong.json") {
		t.Fatalf("path %s", p)
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	if err := sampleHistory().Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"client":1,"op":"put","key":"x","value":"1","call_ns":0,"return_ns":10,"result":"ok","lsn":1}` + "\n" +
		`{"client":2,"op":"get","key":"x","call_ns":12,"return_ns":14,"result":"ok","level":"Strong"}`))
	f.Add([]byte(`{"client":1,"op":"batch","batch":[{"key":"a","value":"1"},{"key":"b"}],"call_ns":0,"return_ns":1,"result":"unknown"}`))
	f.Add([]byte(`{"client":1,"op":"query","batch":[{"key":"a","value":"1"}],"call_ns":-5,"return_ns":-9,"result":"ok","token_in":"0:1#99999999999999999999"}`))
	f.Add([]byte(`{"event":"x","start_ns":1}`))
	f.Add([]byte("{}\n[]\nnull"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Encoding is stable: decode(encode(h)) encodes the same.
		var a, b bytes.Buffer
		if err := h.Encode(&a); err != nil {
			t.Fatal(err)
		}
		h2, err := Decode(bytes.NewReader(a.Bytes()))
		if err != nil {
			t.Fatalf("re-decoding %q: %v", a.String(), err)
		}
		if err := h2.Encode(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("unstable encoding:\n%s\n%s", a.String(), b.String())
		}
		// No checker panics on whatever decodes.
		if len(h.Ops) > 64 {
			return
		}
		Validate(h)
		CheckLinearizable(h, StrongOptions{Timeout: time.Second, ReadLevels: []string{"Strong", ""}})
		CheckSession(h, SessionOptions{Levels: []string{"Session", ""}, ApplyOrder: map[string][]KV{"A": {{Key: "a", Value: "1"}}}, ApplyOrderComplete: true})
		CheckBoundedStaleness(h, BoundedOptions{K: 1, T: 1, Levels: []string{"BoundedStaleness", ""}})
		CheckBoundedStaleness(h, BoundedOptions{K: 1, PerKey: true, Levels: []string{""}})
		CheckPrefix(h, PrefixOptions{})
		CheckDurability(h, DurabilityOptions{Final: State{"x": {Value: "1", LSN: 1}}, AllowLost: func(int, Op) bool { return true }, MaxAllowedLost: 1})
		CheckConvergence(h, ConvergenceOptions{Dumps: map[string]State{"A": {"x": {Value: "1"}}, "B": {}}})
	})
}
