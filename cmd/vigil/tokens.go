package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/danang-soc/vigil/internal/identity"
)

// cmdTokens manages API tokens: `vigil tokens create|list|revoke`.
func cmdTokens(ctx context.Context, args []string, io stdio) int {
	const usage = "usage: vigil tokens create --data DIR --role ROLE [--name NAME]\n" +
		"       vigil tokens list --data DIR\n" +
		"       vigil tokens revoke --data DIR --id ID"
	if len(args) == 0 {
		fmt.Fprintln(io.err, usage)
		return 2
	}
	fs := flag.NewFlagSet("tokens "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.err)
	data := fs.String("data", "", "data directory of the server (holds "+identity.FileName+")")
	switch args[0] {
	case "create":
		role := fs.String("role", "", "role of the token: "+identityRoles())
		name := fs.String("name", "", "a name to recognise the token by (default: role and time)")
		if code := parseIdentityFlags(fs, args[1:], io); code >= 0 {
			return code
		}
		if *data == "" || *role == "" {
			fmt.Fprintln(io.err, "vigil tokens create: --data and --role are required\n"+usage)
			return 2
		}
		r, err := identity.ParseRole(*role)
		if err != nil {
			fmt.Fprintln(io.err, "vigil tokens create:", err)
			return 2
		}
		return withIdentity(ctx, *data, io, func(s *identity.Store) error {
			secret, err := s.CreateToken(ctx, *name, r)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.err, "API token with role %s created; it is shown only now:\n", r)
			fmt.Fprintln(io.out, secret)
			return nil
		})
	case "list":
		if code := parseIdentityFlags(fs, args[1:], io); code >= 0 {
			return code
		}
		if *data == "" {
			fmt.Fprintln(io.err, "vigil tokens list: --data is required")
			return 2
		}
		return withIdentity(ctx, *data, io, func(s *identity.Store) error {
			list, err := s.Tokens(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tTOKEN\tCREATED\tLAST USED\tREVOKED")
			for _, t := range list {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s...\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.Hint,
					identityTime(t.Created), identityTime(t.LastUsed), identityTime(t.Revoked))
			}
			return tw.Flush()
		})
	case "revoke":
		id := fs.String("id", "", "id of the token (see vigil tokens list)")
		if code := parseIdentityFlags(fs, args[1:], io); code >= 0 {
			return code
		}
		n, err := strconv.ParseInt(*id, 10, 64)
		if *data == "" || err != nil {
			fmt.Fprintln(io.err, "vigil tokens revoke: --data and a numeric --id are required")
			return 2
		}
		return withIdentity(ctx, *data, io, func(s *identity.Store) error {
			if err := s.RevokeToken(ctx, n); err != nil {
				return err
			}
			fmt.Fprintf(io.out, "token %d revoked\n", n)
			return nil
		})
	}
	fmt.Fprintf(io.err, "vigil tokens: unknown subcommand %q\n%s\n", args[0], usage)
	return 2
}

// parseIdentityFlags parses args and returns -1 to go on, or an exit code.
func parseIdentityFlags(fs *flag.FlagSet, args []string, io stdio) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(io.err, "vigil %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2
	}
	return -1
}

// withIdentity opens the identity database of the data directory dir, runs
// f and reports its error.
func withIdentity(ctx context.Context, dir string, io stdio, f func(*identity.Store) error) int {
	log := slog.New(slog.NewTextHandler(io.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := identity.Open(ctx, filepath.Join(dir, identity.FileName), time.Now, log)
	if err != nil {
		fmt.Fprintln(io.err, "vigil:", err)
		return 1
	}
	defer s.Close()
	if err := f(s); err != nil {
		fmt.Fprintln(io.err, "vigil:", err)
		return 1
	}
	return 0
}

func identityRoles() string {
	var names []string
	for _, r := range identity.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

func identityTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
