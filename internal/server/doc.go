// Package server wires vigil's pipeline together and is the only package
// that depends on every stage (like Tailscale's tsd): collectors and the
// HTTP ingest write to the durable bus; one consumer takes batches in order,
// runs Sigma detection and correlation, stores events and alerts, groups
// alerts into incidents and pushes them to the console's websocket; the HTTP
// server serves the API, the console, /healthz and /metrics.
//
// Concurrency: Server.Run owns every goroutine it starts (under an errgroup)
// and returns when its context ends, after the HTTP server has drained and
// the in-flight batch has been processed and acknowledged.
package server
