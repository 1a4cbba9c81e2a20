// Package dbnorm owns what every database collector shares when it turns a
// logged or captured statement into fields: the statement's operation
// ("SELECT", "CREATE ROLE", "GRANT", ...) and the event.action it stands for
// ("query", "ddl", "dcl", "export"), and the masking of passwords that
// servers write in clear.
//
// Concurrency: every function is pure and safe for concurrent use.
package dbnorm
