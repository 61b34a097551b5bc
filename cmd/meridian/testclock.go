package main

import (
	"bytes"
	"flag"
	"strings"
	"time"
)

// testClockOffsetFlag registers `--test-clock-offset DURATION` on fs: a
// TEST-ONLY offset added to the region's clock (server.Config.Clock) to
// simulate clock skew between regions (testing.md §3.2 F11; the torture
// scenario F11 starts regions with +5s and -5s). Go reads time through the
// vDSO, so libfaketime cannot do this from outside. The flag is left out
// of the usage text: it is not an operator setting.
func testClockOffsetFlag(fs *flag.FlagSet) *time.Duration {
	const name = "test-clock-offset"
	d := fs.Duration(name, 0, "TEST ONLY: offset of this region's clock (clock-skew scenarios)")
	usage := fs.Usage
	fs.Usage = func() {
		// Print the usage with the flag's lines (name, then the indented
		// description) cut out.
		out := fs.Output()
		var buf bytes.Buffer
		fs.SetOutput(&buf)
		if usage != nil {
			usage()
		} else {
			fs.PrintDefaults()
		}
		fs.SetOutput(out)
		lines := strings.SplitAfter(buf.String(), "\n")
		var b strings.Builder
		for i := 0; i < len(lines); i++ {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "-"+name+" ") || strings.TrimSpace(lines[i]) == "-"+name {
				for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    \t") {
					i++
				}
				continue
			}
			b.WriteString(lines[i])
		}
		_, _ = out.Write([]byte(b.String()))
	}
	return d
}
