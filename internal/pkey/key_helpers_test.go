package pkey

import "math"

func negZero() float64 { return math.Copysign(0, -1) }
func nanF() float64    { return math.NaN() }
