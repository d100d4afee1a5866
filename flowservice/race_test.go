//go:build race

package flowservice

// raceEnabled: timing assertions are meaningless under the race detector.
const raceEnabled = true
