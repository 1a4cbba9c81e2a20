package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/danang-soc/vigil/detections/sigma"
)

// cmdRules is `vigil rules check PATH... [--json]`: compile Sigma rules,
// filters and correlation rules and report every problem with file, line and
// reason; exit 1 when any rule fails.
func cmdRules(_ context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(io.err, "usage: vigil rules check PATH... [--json] [--placeholder NAME=V1,V2]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	fs.SetOutput(io.err)
	asJSON := fs.Bool("json", false, `print one summary object: {"rules":N,"ok":N,"failed":N,"errors":[...]}`)
	ph := placeholderFlag{}
	fs.Var(ph, "placeholder", "value(s) of a %placeholder% used with |expand: NAME=V1,V2 (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(io.err, "usage: vigil rules check PATH... [--json] [--placeholder NAME=V1,V2]\n\nPATH is a rule file or a directory searched for .yml and .yaml files.")
		fs.PrintDefaults()
	}
	paths, code := parseInterleaved(fs, args[1:])
	if code >= 0 {
		return code
	}
	if len(paths) == 0 {
		fs.Usage()
		return 2
	}
	rs, errs := sigma.LoadPaths(sigma.Config{Placeholders: ph}, paths...)
	ok := rs.Len() + len(rs.Correlations()) + len(rs.Filters())
	sum := checkSummary{Rules: ok + len(errs), OK: ok, Failed: len(errs), Errors: []checkError{}}
	for _, e := range errs {
		sum.Errors = append(sum.Errors, checkError{Path: e.Path, Line: e.Line, Error: e.Err.Error()})
	}
	if *asJSON {
		b, _ := json.Marshal(sum)
		fmt.Fprintf(io.out, "%s\n", b)
	} else {
		for _, e := range errs {
			fmt.Fprintln(io.out, strings.ReplaceAll(e.Error(), "\n", " "))
		}
		fmt.Fprintf(io.out, "%d rules: %d ok, %d failed\n", sum.Rules, sum.OK, sum.Failed)
	}
	if sum.Failed > 0 {
		return 1
	}
	return 0
}

type checkSummary struct {
	Rules  int          `json:"rules"`
	OK     int          `json:"ok"`
	Failed int          `json:"failed"`
	Errors []checkError `json:"errors"`
}

type checkError struct {
	Path  string `json:"path"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// placeholderFlag collects --placeholder NAME=V1,V2.
type placeholderFlag map[string][]string

func (p placeholderFlag) String() string { return "" }

func (p placeholderFlag) Set(s string) error {
	name, vals, ok := strings.Cut(s, "=")
	name = strings.Trim(strings.TrimSpace(name), "%")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE[,VALUE...], got %q", s)
	}
	p[name] = append(p[name], strings.Split(vals, ",")...)
	return nil
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments. code is -1 to go on, else the exit code.
func parseInterleaved(fs *flag.FlagSet, args []string) (pos []string, code int) {
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}
