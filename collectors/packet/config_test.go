package packet

import (
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"own ports", Config{Postgres: []uint16{5433, 6432}, MySQL: []uint16{3307}}, true},
		{"port 0", Config{Postgres: []uint16{0}}, false},
		{"port for two protocols", Config{Postgres: []uint16{3306}}, false},
		{"no port at all", Config{Postgres: []uint16{}, MySQL: []uint16{}}, false},
		{"negative bound", Config{MaxFlows: -1}, false},
		{"snaplen too large", Config{Snaplen: 1 << 30}, false},
		{"negative idle timeout", Config{IdleTimeout: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestDefaultFilter(t *testing.T) {
	got := Config{Postgres: []uint16{5432, 5433}, MySQL: []uint16{3306}}.withDefaults().Filter
	if want := "tcp and (port 5432 or port 5433 or port 3306)"; got != want {
		t.Errorf("filter %q, want %q", got, want)
	}
}
