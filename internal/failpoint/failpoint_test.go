package failpoint

import (
	"strings"
	"testing"
	"time"
)

var testPoint = New("failpointTest")

func TestDisabledDoesNothingEnabledActs(t *testing.T) {
	testPoint.Hit() // not enabled: nothing happens
	if err := Enable("failpointTest", "2*off->panic"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = Disable("failpointTest") }()
	testPoint.Hit()
	testPoint.Hit()
	func() {
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(r.(string), "failpointTest") {
				t.Fatalf("third hit of 2*off->panic: recovered %v, want a failpoint panic", r)
			}
		}()
		testPoint.Hit()
		t.Fatal("third hit did not panic")
	}()
	terms, count, err := Status("failpointTest")
	if err != nil || terms != "2*off->panic" || count != 3 {
		t.Fatalf("Status = %q, %d, %v; want the terms and 3 evaluations", terms, count, err)
	}
	if err := Enable("failpointTest", "sleep(50)"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testPoint.Hit()
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("sleep(50) hit took %v", d)
	}
	if err := Disable("failpointTest"); err != nil {
		t.Fatal(err)
	}
	testPoint.Hit()
	if err := Enable("noSuchFailpoint", "panic"); err == nil {
		t.Fatal("enabling an unregistered failpoint succeeded")
	}
}

// BenchmarkHitDisarmed is the cost of a hook in a process started without
// GOFAIL_FAILPOINTS (run it without that variable and before any Enable).
func BenchmarkHitDisarmed(b *testing.B) {
	was := armed.Load()
	armed.Store(false)
	defer armed.Store(was)
	for i := 0; i < b.N; i++ {
		testPoint.Hit()
	}
}

// BenchmarkAcquireDisabled is gofail's own disabled path (a read lock),
// which Hit avoids unless armed.
func BenchmarkAcquireDisabled(b *testing.B) {
	_ = Disable("failpointTest")
	for i := 0; i < b.N; i++ {
		testPoint.eval()
	}
}
