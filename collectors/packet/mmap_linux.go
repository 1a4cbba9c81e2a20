package packet

import (
	"errors"
	"os"
	"syscall"
)

// mapFile maps a regular file into memory, read-only. (Faulting the pages in
// as they are read, 64 KiB at a time, costs less than MAP_POPULATE.)
func mapFile(f *os.File) ([]byte, func(), error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() || size == 0 || int64(int(size)) != size {
		return nil, nil, errors.New("not a regular file that can be mapped")
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { syscall.Munmap(b) }, nil
}
