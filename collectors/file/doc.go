// Package file tails log files into events: glob patterns, checkpointed
// offsets keyed by file identity (device and inode, plus a fingerprint of
// the first bytes against inode reuse), rename rotation (the old file is read
// to its end, then the new one) and copytruncate rotation (a file shrinking
// below the offset is read again from its start).
//
// Delivery: a checkpoint advances only after the sink accepted the events of
// the lines before it (Write returning nil), and only at a record boundary
// of the decoder, so that a restart neither loses nor repeats a record. A
// crash between the sink accepting a batch and the checkpoint being saved
// makes the batch be read again; events that have a time then get the same
// ID as the first time (derived from the file's identity, the record's place
// in it, its time and its text), so that the ID-idempotent stages downstream
// keep them once. Events without a time get their ID at ingest. While the
// sink refuses, the tailer retries and reads no further.
//
// What a poller cannot promise: a file created and rotated away between two
// looks (or while vigil is down, before it was ever seen) is not read; nor
// are lines written after the last read and before a copytruncate truncation
// (they exist only in the copy). A file seen once is checkpointed at once
// and, when rotated out of the patterns while vigil is down, found again
// beside its old path.
//
// Concurrency: a Tailer is run by one Run call, which owns one goroutine;
// Stats may be called from any goroutine. Decoders are made per file and used
// by that goroutine only. CheckpointDir is safe for concurrent use.
package file
