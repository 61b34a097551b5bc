package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func testRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// TestZipfianSkew checks the unscrambled generator against the zipfian
// law: P(rank k) = 1/((k+1)^theta * zeta(n)).
func TestZipfianSkew(t *testing.T) {
	const n, draws = 1000, 400_000
	z := NewZipfian(0, n-1, ZipfianConstant)
	rng := testRand()
	counts := make([]int, n)
	for range draws {
		v := z.Next(rng)
		if v < 0 || v >= n {
			t.Fatalf("draw %d outside [0, %d)", v, n)
		}
		counts[v]++
	}
	zn := zeta(0, n, ZipfianConstant, 0)
	for _, k := range []int{0, 1, 9} {
		want := draws / (zn * math.Pow(float64(k+1), ZipfianConstant))
		got := float64(counts[k])
		if got < 0.9*want || got > 1.1*want {
			t.Errorf("rank %d: %v draws, want about %.0f", k, got, want)
		}
	}
	// The head dominates: the top 10 of 1000 items get well over 10× their
	// uniform share (1%).
	top := 0
	for _, c := range counts[:10] {
		top += c
	}
	if frac := float64(top) / draws; frac < 0.3 {
		t.Errorf("top 1%% of items got %.1f%% of draws, want > 30%%", 100*frac)
	}
	if !(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[500]) {
		t.Errorf("counts not decreasing with rank: %d %d %d %d", counts[0], counts[1], counts[10], counts[500])
	}
}

// TestScrambledZipfianSkew: YCSB's scrambled zipfian over 10,000 keys stays
// in range, is as skewed as the zipfian law says (the hottest key gets
// about 1/zeta(10^10) = 3.8% of the draws, the hottest 1% of keys about a
// fifth), and scatters its hot keys instead of clustering them at 0.
func TestScrambledZipfianSkew(t *testing.T) {
	const n, draws = 10_000, 500_000
	g := NewScrambledZipfian(0, n-1)
	rng := testRand()
	counts := make([]int, n)
	for range draws {
		v := g.Next(rng)
		if v < 0 || v >= n {
			t.Fatalf("draw %d outside [0, %d)", v, n)
		}
		counts[v]++
	}
	sorted := slices.Clone(counts)
	slices.SortFunc(sorted, func(a, b int) int { return b - a })
	hottest := float64(sorted[0]) / draws
	if hottest < 0.03 || hottest > 0.05 {
		t.Errorf("hottest key: %.2f%% of draws, want about 3.8%%", 100*hottest)
	}
	top := 0
	for _, c := range sorted[:n/100] {
		top += c
	}
	if frac := float64(top) / draws; frac < 0.15 || frac > 0.35 {
		t.Errorf("hottest 1%% of keys: %.1f%% of draws, want about 20%% (uniform: 1%%)", 100*frac)
	}
	// Scrambled: the hottest keys are not the lowest ones.
	hot := 0
	for k := range n {
		if counts[k] == sorted[0] {
			hot = k
		}
	}
	if hot < 10 {
		t.Errorf("hottest key is %d: not scrambled", hot)
	}
	// Every key is reachable in principle; most are drawn at least once.
	zero := 0
	for _, c := range counts {
		if c == 0 {
			zero++
		}
	}
	if zero > n/2 {
		t.Errorf("%d of %d keys never drawn", zero, n)
	}
}

// TestZipfianGrowingItemCount: NextN with a growing count extends zeta
// incrementally to the same value as a fresh computation.
func TestZipfianGrowingItemCount(t *testing.T) {
	z := NewZipfian(0, 99, ZipfianConstant)
	rng := testRand()
	for _, n := range []int64{100, 150, 1000} {
		for range 1000 {
			if v := z.NextN(rng, n); v < 0 || v >= n {
				t.Fatalf("NextN(%d) = %d", n, v)
			}
		}
	}
	if want := zeta(0, 1000, ZipfianConstant, 0); abs(z.zetan-want) > 1e-9 {
		t.Errorf("zetan = %v, want %v", z.zetan, want)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestSkewedLatest: the newest acknowledged keys are the hot ones, and no
// draw names a key not yet acknowledged.
func TestSkewedLatest(t *testing.T) {
	acks := newAckCounter(1000)
	g := NewSkewedLatest(acks)
	rng := testRand()
	k1 := acks.Next() // 1000: in flight
	k2 := acks.Next() // 1001
	acks.Acknowledge(k2)
	if got := acks.Last(); got != 999 {
		t.Fatalf("Last = %d with 1000 in flight, want 999", got)
	}
	near := 0
	for range 100_000 {
		v := g.Next(rng)
		if v < 0 || v > 999 {
			t.Fatalf("draw %d outside [0, 999]", v)
		}
		if v >= 990 {
			near++
		}
	}
	if near < 30_000 {
		t.Errorf("%d of 100000 draws among the 10 newest keys, want > 30%%", near)
	}
	acks.Acknowledge(k1)
	if got := acks.Last(); got != 1001 {
		t.Fatalf("Last = %d after acknowledging 1000 and 1001, want 1001", got)
	}
}
