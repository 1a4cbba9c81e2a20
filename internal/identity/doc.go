// Package identity owns who may use vigil and what they may do: local
// accounts with argon2id password hashes, console sessions, API tokens for
// automation and agents, the roles and their permissions, and the HTTP
// middleware that authenticates every request and enforces a permission per
// route.
//
// Everything lives in its own SQLite database (identity.db in the data
// directory, WAL mode, versioned migrations), so that `vigil tokens create`
// and `vigil users create` can write while the server runs.
//
// Secrets are never stored: passwords as argon2id hashes with their
// parameters, session ids and API tokens as SHA-256 hashes. Secrets and
// passwords are never logged.
//
// Concurrency: a Store is safe for concurrent use by many goroutines and by
// several processes sharing the same file (SQLite serialises the writers;
// writes take the lock up front and wait up to the busy timeout). Verified
// API tokens are cached in memory for a short, configurable time, so a
// token revoked by another process stops working within that time; one
// revoked through the same Store stops at once.
package identity
