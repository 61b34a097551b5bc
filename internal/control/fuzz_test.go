package control

import (
	"testing"
	"time"
)

// FuzzDecodeApply feeds arbitrary bytes to the command decoder and applies
// whatever decodes to a state in the middle of a failover: it must never
// panic, a refused command must leave the state unchanged, and every
// accepted one must keep the invariants (the Raft log carries these bytes
// from other regions).
func FuzzDecodeApply(f *testing.F) {
	at := t0.Add(time.Minute)
	for _, c := range []Command{
		Fence{Epoch: 2, Deposed: "A", At: at},
		Report{Region: "B", Progress: prog(2, 1, 1, 7), At: at},
		Plan{Epoch: 2, Target: "B", Partitions: map[uint64]PartPlan{1: {TargetLSN: 7, Source: "B"}}, At: at},
		Promote{Epoch: 2, Target: "B", StartLSN: map[uint64]int64{1: 8}, At: at.Add(time.Hour)},
		Rejoin{Region: "A", Epoch: 2, Truncated: map[uint64]LSNRange{1: {From: 8, To: 9}}, At: at},
		ManualFailover{Target: "C", At: at},
		SetRegionStatus{Region: "C", Status: StatusSuspected, At: at},
	} {
		b, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"Report","cmd":{"region":"B","progress":{"epoch":2,"partitions":{"1":{"durable":-1,"lastEpoch":9}}}}}`))
	f.Add([]byte(`{"kind":"Nope"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := Decode(b)
		if err != nil {
			return
		}
		s := fenced(t)
		before, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(cmd); err != nil {
			after, _ := s.Snapshot()
			if string(after) != string(before) {
				t.Fatalf("refused %T changed the state", cmd)
			}
			return
		}
		if err := s.CheckInvariants(); err != nil {
			t.Fatalf("%T broke an invariant: %v", cmd, err)
		}
	})
}
