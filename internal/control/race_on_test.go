//go:build race

package control

// raceEnabled: the race detector slows the simulation ~8x; the package has
// no goroutines, so fewer seeds lose nothing race-wise.
const raceEnabled = true
