// Package event is the small kernel that every stage of vigil shares: the
// Event that collectors produce, the Alert that detections raise, the
// Incident that correlation builds, and the one-method interfaces between
// stages. It imports only the standard library.
//
// Concurrency: values of these types are plain data. An Event is owned by
// one goroutine at a time; once handed to a Sink it must not be modified by
// the sender. Reading a shared Event from many goroutines is safe.
package event
