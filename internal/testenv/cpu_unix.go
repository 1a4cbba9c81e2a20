//go:build unix

package testenv

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time this process has used, so that benchmarks can
// report work per CPU-second, a figure that other load on the machine does
// not distort.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
