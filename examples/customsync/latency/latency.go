// Package latency collects latency samples and summarizes them with
// nearest-rank percentiles, for the examples' reports.
package latency

import (
	"fmt"
	"slices"
	"time"
)

// Samples is a set of latency samples. The zero value is empty and ready.
type Samples []time.Duration

// Add records one sample.
func (s *Samples) Add(d time.Duration) { *s = append(*s, d) }

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100), or 0
// with no samples.
func (s Samples) Percentile(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

// Max returns the largest sample, or 0 with no samples.
func (s Samples) Max() time.Duration {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// String renders "p50 … p99 … max …" in milliseconds.
func (s Samples) String() string {
	if len(s) == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %8s  p99 %8s  max %8s", MS(s.Percentile(50)), MS(s.Percentile(99)), MS(s.Max()))
}

// MS renders d in milliseconds with one decimal, e.g. "72.4ms".
func MS(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
