// Package postgres owns the decoding of what PostgreSQL writes about itself
// into events: the jsonlog and csvlog destinations, the plain stderr format
// with a configured log_line_prefix, and the pgaudit SESSION and OBJECT
// records carried inside any of them.
//
// Each format is a stateful line decoder (Line, Flush, Pending): a record
// may span lines (csvlog quoted newlines, stderr DETAIL and STATEMENT lines),
// and sessions are joined by session id (by process id when the prefix has
// no %c) so that a line that lacks the client's address or user gets it from
// the connection's earlier lines. The join table is bounded
// (Options.MaxSessions); when it is full it is emptied, so later lines of
// the forgotten sessions only miss the joined fields.
//
// Concurrency: a decoder is owned by one goroutine; run one decoder per log
// file.
package postgres
