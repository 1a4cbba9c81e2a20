// Package packet owns the packet collector: it reads packets from capture
// files (pcap and pcapng, read in chunks that stay in the processor's cache
// and decoded in place) or live from an interface (libpcap with a BPF filter
// when built with cgo, else an AF_PACKET socket in pure Go on Linux),
// reassembles the TCP connections to the configured database ports with
// bounded memory, hands each connection's byte streams to the PostgreSQL
// (pgwire) and MySQL (mysqlwire) decoders, and emits their events with the
// network fields added, plus one flow record per connection
// ("event.action": "flow").
//
// Entry points: DecodeFile, DecodeReader and DecodeBytes for captures,
// Capture.Run for live traffic, Decoder for callers that bring their own
// packets.
//
// Event times are packet timestamps; the idle timeout also runs on packet
// time, so replays are deterministic.
//
// Concurrency: a Decoder, and the DecodeFile and DecodeReader calls built on
// it, belong to one goroutine. A Capture runs one goroutine in Run; its Stats
// method is safe to call concurrently from any goroutine.
package packet
