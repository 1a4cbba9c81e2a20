//go:build linux && !cgo

package packet

import "time"

// Without cgo there is no libpcap: Linux captures with AF_PACKET in pure Go.
func openLive(cfg Config, now func() time.Time) (liveSource, error) {
	return openAFPacket(cfg, now)
}
