package torture

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/testbin"
)

var (
	longFlag = flag.Bool("torture.long", false, "also run the heavier scenarios (F4cp, F5, F6, F7s, F10s, ...)")
	seedFlag = flag.Uint64("torture.seed", 0, "seed (0: from the clock; printed on failure)")
	durFlag  = flag.Duration("torture.duration", 9*time.Second, "client run time per scenario")
	rateFlag = flag.Float64("torture.rate", 60, "offered load, ops/s over all clients")
	keepFlag = flag.String("torture.dir", "", "keep run directories here (default: a temp dir, kept only on failure)")
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// buildBinary builds ./cmd/meridian once per test binary (internal/testbin).
func buildBinary(t *testing.T) string { return testbin.Meridian(t) }

// TestScenariosCI runs the CI-sized scenarios (F0, F1 Strong, F2 BS, F3
// Session, F4 Eventual, F5 asymmetric partition and bridge, F6 latency, F7
// kill -9, F10 SIGSTOP, F8, F8m and F8s failovers, F11 clock skew at
// Session and F11b at BoundedStaleness, F19 retry storm, and the
// multi-write F12 conflicts under a full partition and F9 kill -9 of a
// region; F3, F7, F8 and F8m also run F18's change-feed consumer) at a
// modest rate and
// requires every checker to pass; -torture.long adds the rest except the
// scenarios that reproduce a known bug (Scenario.KnownBug).
func TestScenariosCI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real clusters")
	}
	bin := buildBinary(t)
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	dir := *keepFlag
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "meridian-torture-"); err != nil {
			t.Fatal(err)
		}
	}
	// Artifacts are kept in a defer: t.Failed() is false while panicking.
	panicking := true
	defer func() {
		if t.Failed() || panicking {
			fmt.Fprintf(os.Stderr, "torture: seed %d; artifacts kept in %s (rerun with -torture.seed=%d)\n", seed, dir, seed)
			return
		}
		if *keepFlag == "" {
			_ = os.RemoveAll(dir)
		}
	}()
	for _, sc := range Scenarios {
		if sc.Long && !*longFlag || sc.KnownBug != "" {
			continue
		}
		t.Run(sc.ID, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := Run(ctx, Config{Binary: bin, Dir: dir, Duration: *durFlag, Rate: *rateFlag, Seed: seed,
				Log: testLog{t}}, sc)
			if err != nil {
				t.Fatalf("%s (seed %d): %v", sc.ID, seed, err)
			}
			t.Log("\n" + res.Summary())
			if !res.OK() {
				t.Errorf("%s: violation (seed %d, artifacts in %s)", sc.ID, seed, res.Dir)
			}
		})
	}
	panicking = false
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// TestHarnessDetectsStaleReads is the harness's negative control: a
// broken client sends its Session reads at Eventual without a token while
// the history claims Session with the token. During the partition of the
// write region, clients homed elsewhere read their own writes stale, and
// the session checker must say so.
func TestHarnessDetectsStaleReads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real cluster")
	}
	bin := buildBinary(t)
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	sc, err := Lookup("F3")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Binary: bin, Dir: t.TempDir(), Duration: 6 * time.Second, Rate: *rateFlag, Seed: seed,
		Log: testLog{t}, sendLevel: "Eventual"}, sc[0])
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	t.Log("\n" + res.Summary())
	for _, rep := range res.Reports {
		if rep.Checker == "session" {
			if rep.OK {
				t.Fatalf("seed %d: the session checker passed a history of stale Eventual reads recorded as Session", seed)
			}
			return
		}
	}
	t.Fatal("no session report")
}

// TestHarnessDetectsMultiWriteStaleReads is the multi-write negative
// control: during F12's full partition, a broken client sends its reads at
// Eventual without a token while the history claims Session with the
// token; reads in another region miss the client's own writes there, and
// the causal session checker must say so. It runs with -torture.long (it
// costs a cluster run).
func TestHarnessDetectsMultiWriteStaleReads(t *testing.T) {
	if testing.Short() || !*longFlag {
		t.Skip("starts a real cluster; runs with -torture.long")
	}
	bin := buildBinary(t)
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	sc, err := Lookup("F12")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Binary: bin, Dir: t.TempDir(), Duration: 8 * time.Second, Rate: *rateFlag, Seed: seed,
		Log: testLog{t}, sendLevel: "Eventual"}, sc[0])
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	t.Log("\n" + res.Summary())
	for _, rep := range res.Reports {
		if rep.Checker == "causal-session" {
			if rep.OK {
				t.Fatalf("seed %d: the causal session checker passed a history of stale Eventual reads recorded as Session", seed)
			}
			return
		}
	}
	t.Fatal("no causal-session report")
}
