package postgres

// DefaultLinePrefix is the log_line_prefix vigil recommends and assumes when
// none is configured.
const DefaultLinePrefix = "%m [%p] %q%u@%d/%a %h "

// Options configure a decoder.
type Options struct {
	// Host is the database server's name ("host.name").
	Host string
	// AssetID names the protected system the database belongs to
	// ("vigil.asset.id").
	AssetID string
	// LinePrefix is the server's log_line_prefix, for the stderr format
	// (default DefaultLinePrefix).
	LinePrefix string
	// MaxSessions bounds the session join table (default 10000).
	MaxSessions int
}

func (o Options) maxSessions() int {
	if o.MaxSessions > 0 {
		return o.MaxSessions
	}
	return 10000
}
