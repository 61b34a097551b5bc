package partition

import "github.com/meridiandb/meridian/internal/failpoint"

// Failpoints of the commit path (testing.md §3.2 F13: a crash inside
// commit; tests/faults). Disabled they cost one atomic load each; enable
// them with GOFAIL_FAILPOINTS at process start, e.g.
// GOFAIL_FAILPOINTS='partitionAfterSync=50*off->panic'.
var (
	// fpBeforeSync fires in the writer goroutine once a group's batch is
	// prepared (LSNs assigned, nothing applied or synced), right before it
	// is committed with a synced WAL. Every partition, local writes and
	// replicated applies alike.
	fpBeforeSync = failpoint.New("partitionBeforeSync")
	// fpAfterSync fires in the finisher once a group's batch is durable,
	// before its applied LSN is published and its requests are answered.
	fpAfterSync = failpoint.New("partitionAfterSync")
)
