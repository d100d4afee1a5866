//go:build !race

package flowservice

const raceEnabled = false
