package packet

import "time"

// liveSources are the capture methods TestCaptureLive tries besides the
// default one.
var liveSources = map[string]func(Config, func() time.Time) (liveSource, error){
	"afpacket": openAFPacket,
}
