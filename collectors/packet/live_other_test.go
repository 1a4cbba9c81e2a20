//go:build !linux

package packet

import "time"

var liveSources = map[string]func(Config, func() time.Time) (liveSource, error){}
