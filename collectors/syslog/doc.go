// Package syslog turns syslog messages into events: a parser for RFC 5424
// and RFC 3164 (with the usual real-world variants), a line decoder for
// replaying syslog files, and a Server that receives syslog over UDP and TCP
// (RFC 6587 octet counting or LF framing, detected per connection) and
// writes batches of events to an event.Sink.
//
// Delivery: over TCP nothing is dropped; when the sink refuses, the server
// keeps the batch, retries it and stops reading from the connections, so
// that the senders are pushed back through TCP flow control. UDP cannot push
// back: datagrams that arrive while the queue is full are dropped and
// counted in Stats().Dropped. Use TCP where loss matters.
//
// Concurrency: a Parser and a Server are safe for concurrent use; a Decoder
// is owned by one goroutine. Server.Run owns every goroutine it starts (one
// per UDP socket, one per TCP connection, one batcher) and returns only when
// all have ended.
package syslog
