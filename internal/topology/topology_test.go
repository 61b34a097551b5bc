package topology

import (
	"strings"
	"testing"
)

func TestMultiWriteRefusesStrong(t *testing.T) {
	for _, level := range []string{"Strong", "BoundedStaleness", "Session", "ConsistentPrefix", "Eventual"} {
		topo := Dev(8081, "127.0.0.1")
		topo.MultiWrite = true
		topo.Consistency = level
		err := topo.Validate()
		if level == "Strong" {
			if err == nil || !strings.Contains(err.Error(), "multiWrite") {
				t.Fatalf("Strong with multiWrite: got %v, want a refusal naming multiWrite", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s with multiWrite: %v", level, err)
		}
	}
}
