//go:build !cgo

package packet

func openLive(Config) (liveSource, error) { return nil, ErrLiveUnsupported }
