// Package pgwire decodes the PostgreSQL frontend/backend protocol (version
// 3) of one connection into database events: the login attempt (startup
// parameters, authentication method and outcome, SCRAM included), every
// statement of the simple and the extended query protocols with its bind
// parameters, rows, bytes, command tag and error, and the logout. An
// ErrorResponse is carried by the login or statement that failed, or is an
// event of its own ("error") when it belongs to neither. SSLRequest and GSSENCRequest are recognised; a session that
// turns encrypted is reported as such and its bytes are not decoded.
//
// The decoder resynchronises after lost bytes and on captures that start
// inside a connection, counting what it could not decode in Errors.
//
// Concurrency: a Session belongs to one goroutine.
package pgwire
