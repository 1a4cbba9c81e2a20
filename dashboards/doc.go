// Package dashboards is the web console: the login, logout and first-login
// password pages, the live view where new alerts and incidents appear
// without reloading, the analyst's pages (the incident queue and each
// incident, event search, dashboards for the wall screen, the rules), the
// embedded front end (plain ES modules and CSS, no build step; the one
// library, uPlot for the charts, is committed built under
// web/static/vendor with its licence) in Vietnamese and English, and the
// websocket hub behind GET /api/v1/stream.
//
// Each page is a server-rendered shell that its script fills from the JSON
// API of internal/server, following the stream for what changes. The page
// shows the controls that change things only to roles that may use them;
// the API refuses the others (403) whatever the page shows. Every value
// from the server is written as text, never as HTML.
//
// The console authenticates through internal/identity (session cookie or
// API token), reads recent alerts and incidents through the small Feed
// interface that the server implements from its store, and masks personal
// data (internal/privacy) for roles that may not see it.
//
// Concurrency: a Console and its Hub are safe for concurrent use. Hub.Publish
// never blocks on a client: each client has a bounded send buffer, and a
// client whose buffer is full is disconnected (and counted) so that it
// resumes from its last sequence number. The Hub keeps a bounded ring of
// recent messages for those resumes. Hub.Run owns nothing but shutdown:
// when its context ends, every client is told the server is going away and
// new connections are refused. Each connection has two goroutines (reader
// and writer) that end with it.
package dashboards
