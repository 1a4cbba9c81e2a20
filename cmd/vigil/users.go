package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/danang-soc/vigil/internal/identity"
)

// cmdUsers manages console accounts: `vigil users create|list`.
func cmdUsers(ctx context.Context, args []string, io stdio) int {
	const usage = "usage: vigil users create --data DIR --name NAME --role ROLE   (password on standard input)\n" +
		"       vigil users list --data DIR"
	if len(args) == 0 {
		fmt.Fprintln(io.err, usage)
		return 2
	}
	fs := flag.NewFlagSet("users "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.err)
	data := fs.String("data", "", "data directory of the server (holds "+identity.FileName+")")
	switch args[0] {
	case "create":
		name := fs.String("name", "", "account name")
		role := fs.String("role", "", "role of the account: "+identityRoles())
		if code := parseIdentityFlags(fs, args[1:], io); code >= 0 {
			return code
		}
		if *data == "" || *name == "" || *role == "" {
			fmt.Fprintln(io.err, "vigil users create: --data, --name and --role are required\n"+usage)
			return 2
		}
		r, err := identity.ParseRole(*role)
		if err != nil {
			fmt.Fprintln(io.err, "vigil users create:", err)
			return 2
		}
		if r == identity.RoleAgent {
			fmt.Fprintln(io.err, "vigil users create: agents use API tokens, not accounts (vigil tokens create --role agent)")
			return 2
		}
		// The first line of standard input is the password, so that it
		// never appears in the process list or the shell history; typed
		// at a terminal, it is not echoed.
		var password string
		if f, ok := io.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprint(io.err, "Password: ")
			var b []byte
			b, err = term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(io.err)
			password = string(b)
		} else {
			var line string
			line, err = bufio.NewReader(io.in).ReadString('\n')
			password = strings.TrimRight(line, "\r\n")
		}
		if password == "" {
			fmt.Fprintln(io.err, "vigil users create: no password on standard input", identityErrSuffix(err))
			return 2
		}
		return withIdentity(ctx, *data, io, func(s *identity.Store) error {
			u, err := s.CreateUser(ctx, *name, password, r)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.out, "user %s created with role %s\n", u.Name, u.Role)
			return nil
		})
	case "list":
		if code := parseIdentityFlags(fs, args[1:], io); code >= 0 {
			return code
		}
		if *data == "" {
			fmt.Fprintln(io.err, "vigil users list: --data is required")
			return 2
		}
		return withIdentity(ctx, *data, io, func(s *identity.Store) error {
			list, err := s.Users(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tPASSWORD CHANGED\tMUST CHANGE")
			for _, u := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", u.Name, u.Role, identityTime(u.Created), identityTime(u.PasswordChanged), u.MustChangePassword)
			}
			return tw.Flush()
		})
	}
	fmt.Fprintf(io.err, "vigil users: unknown subcommand %q\n%s\n", args[0], usage)
	return 2
}

func identityErrSuffix(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
