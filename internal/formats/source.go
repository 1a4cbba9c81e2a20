package formats

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source is one configured database log: the file (or stream) a collector
// reads, its format, and the server and protected system it belongs to, so
// that database evidence can be tied to the system's protection model.
type Source struct {
	// Format names a row of the table ("postgres-jsonlog", "mariadb-audit", ...).
	Format string `yaml:"format" json:"format"`
	// Path is the log file; empty when the log arrives another way (syslog).
	Path string `yaml:"path" json:"path,omitempty"`
	// Host is the database server's name ("host.name").
	Host string `yaml:"host" json:"host,omitempty"`
	// AssetID names the protected system ("vigil.asset.id"); required.
	AssetID string `yaml:"asset_id" json:"asset_id"`
	// LinePrefix is PostgreSQL's log_line_prefix, for postgres-stderr.
	LinePrefix string `yaml:"log_line_prefix" json:"log_line_prefix,omitempty"`
	// TimeZone is the server's IANA time zone ("Asia/Ho_Chi_Minh") for logs
	// that write local times without a zone; default UTC.
	TimeZone string `yaml:"time_zone" json:"time_zone,omitempty"`
}

// Validate reports every problem of s.
func (s Source) Validate() error {
	var errs []error
	if _, ok := Lookup(s.Format); !ok {
		var names []string
		for _, f := range All() {
			names = append(names, f.Name)
		}
		errs = append(errs, fmt.Errorf("format %q is unknown (want one of %s)", s.Format, strings.Join(names, ", ")))
	}
	if s.AssetID == "" {
		errs = append(errs, errors.New("asset_id is required: it ties the log to its protected system"))
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("time_zone %q: %w", s.TimeZone, err))
		}
	}
	if s.LinePrefix != "" && s.Format != "postgres-stderr" {
		errs = append(errs, fmt.Errorf("log_line_prefix applies only to postgres-stderr, not %s", s.Format))
	}
	return errors.Join(errs...)
}

// Decoder returns a new decoder for s.
func (s Source) Decoder() (Decoder, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	f, _ := Lookup(s.Format)
	o := Options{Host: s.Host, AssetID: s.AssetID, LinePrefix: s.LinePrefix}
	if s.TimeZone != "" {
		o.Location, _ = time.LoadLocation(s.TimeZone)
	}
	return f.New(o), nil
}
