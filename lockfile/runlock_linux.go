package lockfile

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// holderIsCurrent reports whether the process pid holds the flock(2) lock on path now, as the
// kernel lists it in /proc/locks. When that list cannot be read or does not show the file,
// the answer is no: the caller then names no one.
func holderIsCurrent(path string, pid int) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return false
	}
	defer f.Close()
	return lockedBy(bufio.NewScanner(f), uint64(st.Dev), st.Ino, pid)
}

// lockedBy reports whether the lines of /proc/locks show a granted FLOCK lock on the file
// (dev, ino) held by pid. A line reads "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5317314 0 EOF";
// waiters are listed as "1: -> FLOCK …" and are skipped.
func lockedBy(lines *bufio.Scanner, dev, ino uint64, pid int) bool {
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	file := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	holder := fmt.Sprint(pid)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		if f[5] == file && f[4] == holder {
			return true
		}
	}
	return false
}
