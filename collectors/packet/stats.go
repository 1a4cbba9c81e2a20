package packet

// Stats counts what the collector read, decoded and had to drop. All counts
// are totals since the Decoder or Capture was made.
type Stats struct {
	Packets uint64 // packets read
	Bytes   uint64 // captured bytes of those packets
	TCP     uint64 // TCP segments to or from a configured port
	Ignored uint64 // packets that are not TCP to a configured port
	// Detected counts the server ports learnt by Config.Detect.
	Detected uint64
	// Malformed are packets that claim IP/TCP but are truncated or invalid.
	Malformed uint64
	// CaptureErrors counts damage to the capture itself: a file cut short
	// or a record header that makes no sense (reading stops there).
	CaptureErrors uint64

	Flows        uint64 // connections seen
	FlowsEvicted uint64 // closed early because MaxFlows was reached
	FlowsIdle    uint64 // closed by the idle timeout
	FlowsOpen    uint64 // connections tracked now

	Retransmitted uint64 // segments that carried only bytes already delivered
	OutOfOrder    uint64 // segments held until the bytes before them came
	Gaps          uint64 // holes given up on (loss, buffer bounds, mid-stream starts)
	LostBytes     uint64 // bytes known to be missing in those holes
	Buffered      uint64 // out-of-order bytes held now

	// DecodeErrors counts protocol messages the decoders could not make
	// sense of (corrupt, truncated or unexpected data).
	DecodeErrors uint64
	Events       uint64 // events emitted
	// EventsDropped counts events of a live capture that the sink refused.
	EventsDropped uint64

	// Live capture only: what the kernel reports.
	KernelReceived uint64 // packets the capture socket received
	KernelDropped  uint64 // packets dropped because the capture buffer was full
	IfaceDropped   uint64 // packets dropped by the interface or driver
}
