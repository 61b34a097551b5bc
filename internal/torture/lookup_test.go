package torture

import (
	"slices"
	"testing"
)

func TestLookupLeavesKnownBugsOutOfAll(t *testing.T) {
	all, err := Lookup("all")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(scs []Scenario) []string {
		var out []string
		for _, sc := range scs {
			out = append(out, sc.ID)
		}
		return out
	}
	for _, sc := range Scenarios {
		if in := slices.Contains(ids(all), sc.ID); in == (sc.KnownBug != "") {
			t.Errorf("%s (known bug %q) in \"all\": %v", sc.ID, sc.KnownBug, in)
		}
	}
	got, err := Lookup("f11s,F11")
	if err != nil || !slices.Equal(ids(got), []string{"F11s", "F11"}) {
		t.Fatalf("Lookup(f11s,F11) = %v, %v", ids(got), err)
	}
	for _, sc := range got {
		if sc.ClockOffsets["r2"] <= 0 || sc.ClockOffsets["r3"] >= 0 {
			t.Errorf("%s: clocks %v, want r2 ahead and r3 behind", sc.ID, sc.ClockOffsets)
		}
	}
}
