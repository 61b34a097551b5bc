package repl

import "github.com/meridiandb/meridian/internal/failpoint"

// fpBeforeSend fires on the sender (the write region's Service) right
// before a batch of log entries is sent to a remote region (testing.md
// §3.2 F13; tests/faults). Disabled it costs one atomic load; enable it
// with GOFAIL_FAILPOINTS at process start, e.g.
// GOFAIL_FAILPOINTS='replBeforeSend=20*off->panic'.
var fpBeforeSend = failpoint.New("replBeforeSend")
