package main

import (
	"fmt"
	"io/fs"

	"github.com/danang-soc/vigil/rules"
	"gopkg.in/yaml.v3"
)

// bundledRules returns the Sigma rules shipped in the binary and the
// default values of their placeholders.
func bundledRules() (fs.FS, map[string][]string, error) {
	sigmaFS, err := fs.Sub(rules.FS, "sigma")
	if err != nil {
		return nil, nil, fmt.Errorf("bundled rules: %w", err)
	}
	b, err := fs.ReadFile(rules.FS, "placeholders.yml")
	if err != nil {
		return nil, nil, fmt.Errorf("bundled placeholders: %w", err)
	}
	var ph map[string][]string
	if err := yaml.Unmarshal(b, &ph); err != nil {
		return nil, nil, fmt.Errorf("bundled placeholders.yml: %w", err)
	}
	return sigmaFS, ph, nil
}
