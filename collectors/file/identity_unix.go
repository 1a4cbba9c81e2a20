//go:build unix

package file

import (
	"os"
	"syscall"
)

// identityOf returns the device and inode of a file.
func identityOf(path string, fi os.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	}
	return fileID{}
}
