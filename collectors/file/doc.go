// Package file tails log files into events: glob patterns, checkpointed
// offsets keyed by file identity (device and inode, plus a fingerprint of
// the first bytes against inode reuse), rename rotation (the old file is read
// to its end, then the new one) and copytruncate rotation (a file shrinking
// below the offset is read again from its start).
//
// Delivery: a checkpoint advances only after the sink accepted the events of
// the lines before it (Write returning nil), and only at a record boundary
// of the decoder, so that a restart neither loses nor repeats a record. The
// one window for a repeat is a crash between the sink accepting a batch and
// the checkpoint being saved; the one for a loss is copytruncate itself
// (lines written after the last read and before the truncation exist only in
// the copy). While the sink refuses, the tailer retries and reads no further.
//
// Concurrency: a Tailer is run by one Run call, which owns one goroutine;
// Stats may be called from any goroutine. Decoders are made per file and used
// by that goroutine only. CheckpointDir is safe for concurrent use.
package file
