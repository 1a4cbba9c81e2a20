package event

import (
	"context"
	"time"
)

// LogSource is the Sigma log source of an event. Empty parts are unknown; an
// event with no log source at all is matched against every rule.
type LogSource struct {
	Product  string `json:"product,omitempty"`
	Category string `json:"category,omitempty"`
	Service  string `json:"service,omitempty"`
}

// IsZero reports whether no part of the log source is known.
func (l LogSource) IsZero() bool { return l == LogSource{} }

// Event is one thing that happened: a log line, an audit record, a decoded
// query, a scan hit.
//
// Field names follow the Elastic Common Schema where it has a name
// ("host.name", "source.ip", "user.name", "event.action") and the
// OpenTelemetry database conventions for databases ("db.system", "db.user",
// "db.statement"); a log's own field names are kept as they came so that
// Sigma rules written for that log match.
type Event struct {
	// ID is assigned at first ingest and is the idempotency key downstream.
	ID ID
	// Time is when it happened; Received when vigil first saw it.
	Time     time.Time
	Received time.Time
	// Source is the Sigma log source.
	Source LogSource
	// Fields are the normalised fields, including "host.name" and "agent.id".
	Fields Fields
	// Raw is the record as it was read (ECS "event.original").
	Raw string
}

// Well-known field names.
const (
	FieldHost    = "host.name"
	FieldAgentID = "agent.id"
	FieldMessage = "message"
)

// Get returns the value of a field.
func (e *Event) Get(key string) (Value, bool) { return e.Fields.Get(key) }

// Host returns the "host.name" field.
func (e *Event) Host() string { return e.Fields.Str(FieldHost) }

// AgentID returns the "agent.id" field.
func (e *Event) AgentID() string { return e.Fields.Str(FieldAgentID) }

// Stamp gives the event an ID and a received time if it has none, so that
// re-sending an event that already has an ID never makes a second one.
func (e *Event) Stamp(now time.Time) {
	if e.Received.IsZero() {
		e.Received = now
	}
	if e.Time.IsZero() {
		e.Time = e.Received
	}
	if e.ID.IsZero() {
		e.ID = NewID(e.Received)
	}
}

// Sink accepts batches of events. Write returns only when the batch is
// accepted under the sink's own guarantee (for the server's ingest: durable);
// an error means none of the batch may be assumed accepted.
type Sink interface {
	Write(ctx context.Context, batch []Event) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, batch []Event) error

// Write calls f.
func (f SinkFunc) Write(ctx context.Context, batch []Event) error { return f(ctx, batch) }
