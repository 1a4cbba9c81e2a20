// Command vigil is the vigil platform: the server (`vigil serve`) and the
// command line that analysts and administrators script (`rules`, `hunt`,
// `decode`, `tokens`, `users`, `version`). The contract of each command is in
// DESIGN.md; each lives in its own file here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// stdio is what a command reads and writes, so that tests can run commands
// in process.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io stdio) int
}

// commands is the explicit table of subcommands.
var commands = []command{
	{"serve", "run the platform (collectors, detection, correlation, console, API)", cmdServe},
	{"version", "print the version", cmdVersion},
	{"decode", "decode database sessions from a capture file", cmdDecode},
	{"tokens", "create, list and revoke API tokens", cmdTokens},
	{"users", "create and list console accounts", cmdUsers},
	{"rules", "check Sigma rules: vigil rules check PATH... [--json]", cmdRules},
	{"hunt", "run events through the rules: vigil hunt [--rules PATH...] --events FILE...", cmdHunt},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], io)
		}
	}
	fmt.Fprintf(io.err, "vigil: unknown command %q\n\n", args[0])
	usage(io.err)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vigil <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'vigil <command> -h' for the flags of a command.")
}

func cmdVersion(_ context.Context, _ []string, io stdio) int {
	fmt.Fprintln(io.out, "vigil", version)
	return 0
}
