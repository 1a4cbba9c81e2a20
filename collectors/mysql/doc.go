// Package mysql owns the decoding of what MariaDB and MySQL write about
// themselves into events: the MariaDB server_audit plugin log, the general
// query log (MariaDB and MySQL 8 timestamp styles), the slow query log and
// the error log's access-denied warnings. The Sigma log source is product
// "mysql" for both servers; "db.system" tells them apart.
//
// Each format is a stateful line decoder (Line, Flush, Pending): general-log
// queries and slow-log entries span lines, and the general log's threads are
// joined by thread id so that every query carries its user and database.
// The join table is bounded (Options.MaxSessions); when it is full it is
// emptied.
//
// Concurrency: a decoder is owned by one goroutine; run one decoder per log
// file.
package mysql
