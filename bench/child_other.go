//go:build !linux

package main

import (
	"os"
	"time"
)

// waitExited knows no I/O counters outside Linux: Wait does the waiting.
func waitExited(int) written { return written{bytes: -1} }

// usage is the CPU time (user + system) of an exited process; peak RSS is Linux-only here.
func usage(ps *os.ProcessState) (time.Duration, int64) {
	return ps.UserTime() + ps.SystemTime(), 0
}
