//go:build !linux && !cgo

package packet

import "time"

func openLive(Config, func() time.Time) (liveSource, error) { return nil, ErrLiveUnsupported }
