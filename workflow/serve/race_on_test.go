//go:build race

package serve

// raceEnabled: the race detector slows byte loops some twentyfold.
const raceEnabled = true
