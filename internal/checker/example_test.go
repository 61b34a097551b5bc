package checker_test

import (
	"fmt"

	"github.com/meridiandb/meridian/internal/checker"
)

// A write of x=1 is acknowledged at t=10; a Strong read in another region
// invoked at t=12 returns not found: a stale read (S-F1).
func ExampleCheckLinearizable() {
	h := checker.History{Ops: []checker.Op{
		{Client: 1, Region: "r1", Level: "Strong", Kind: checker.Write, Key: "x", Value: "1:1", Call: 0, Return: 10, Result: checker.OK, TokenOut: "0:1#1"},
		{Client: 2, Region: "r2", Level: "Strong", Kind: checker.Read, Key: "x", Value: "", Call: 12, Return: 14, Result: checker.OK},
		// A write that timed out may take effect at any later time.
		{Client: 3, Region: "r1", Level: "Strong", Kind: checker.Write, Key: "y", Value: "3:1", Call: 0, Return: 10, Result: checker.Unknown, Err: "408/20001"},
		{Client: 2, Region: "r2", Level: "Strong", Kind: checker.Read, Key: "y", Value: "3:1", Call: 20, Return: 21, Result: checker.OK},
	}}
	r := checker.CheckLinearizable(h, checker.StrongOptions{}) // set ReportDir to keep the HTML visualization
	fmt.Println(r.OK)
	for _, v := range r.Violations {
		fmt.Println(v.Kind, v.Key, v.Ops)
	}
	// Output:
	// false
	// S-F1 x [1 0]
}
