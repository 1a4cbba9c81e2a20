//go:build unix

package correlate

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used (all threads), so that a
// benchmark can report throughput per CPU second on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
