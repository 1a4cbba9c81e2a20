// Package mysqlwire decodes the MySQL/MariaDB client/server protocol of one
// connection into database events: the login attempt (server greeting,
// handshake response with user, database, capability flags and
// authentication plugin, the auth switch exchange and its OK or ERR), the
// switch to TLS, COM_QUERY, COM_INIT_DB, COM_STMT_PREPARE and
// COM_STMT_EXECUTE with their binary parameters, the OK and ERR answers
// with error numbers, result-set row counts and bytes, and COM_QUIT. An ERR
// packet is carried by the login or statement that failed, or is an event of
// its own ("error") when it belongs to neither. The compressed protocol is
// decoded.
//
// The decoder resynchronises after lost bytes and on captures that start
// inside a connection, counting what it could not decode in Errors.
//
// Concurrency: a Session belongs to one goroutine.
package mysqlwire
