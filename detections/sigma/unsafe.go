package sigma

import "unsafe"

// bufString views bytes of the evaluation scratch as a string without a
// copy. The bytes are never written again during the evaluation that uses
// the string (the buffer only grows), which is what makes this safe.
func bufString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
