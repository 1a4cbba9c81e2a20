//go:build !unix

package file

import "os"

// identityOf has no device and inode to offer outside Unix; files are then
// told apart by path and fingerprint only.
func identityOf(path string, fi os.FileInfo) fileID { return fileID{Path: path} }
