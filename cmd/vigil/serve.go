package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/danang-soc/vigil/internal/server"
)

func cmdServe(ctx context.Context, args []string, io stdio) int {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(io.err)
	configPath := fl.String("config", "", "YAML configuration `file` (every key has a default)")
	data := fl.String("data", "", "data `dir` (store, bus, identity); overrides the config")
	listen := fl.String("listen", "", "HTTP `address` of the console and API; overrides the config (default 127.0.0.1:8080)")
	demo := fl.Bool("demo", false, "replay a bundled, realistic attack on a PostgreSQL server")
	fl.Usage = func() {
		fmt.Fprintln(io.err, "usage: vigil serve [--config FILE] [--data DIR] [--listen ADDR] [--demo]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(io.err, "vigil serve: unexpected argument %q\n", fl.Arg(0))
		return 2
	}
	var cfg server.Config
	if *configPath != "" {
		var err error
		if cfg, err = server.LoadConfig(*configPath); err != nil {
			fmt.Fprintln(io.err, "vigil serve:", err)
			return 1
		}
	}
	if *data != "" {
		cfg.Data = *data
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	level := slog.LevelInfo
	switch cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	log := slog.New(slog.NewJSONHandler(io.err, &slog.HandlerOptions{Level: level}))
	bundled, placeholders, err := bundledRules()
	if err != nil {
		fmt.Fprintln(io.err, "vigil serve:", err)
		return 1
	}
	opts := server.Options{
		Bundled:      bundled,
		Placeholders: placeholders,
		Demo:         *demo,
		Ready: func(addr, otp string) {
			fmt.Fprintf(io.out, "vigil is running: console at %s\n", addr)
			if otp != "" {
				// Printed to the terminal once, never logged.
				fmt.Fprintf(io.out, "first administrator: user admin, one-time password %s (change it at first login)\n", otp)
			}
			if *demo {
				fmt.Fprintln(io.out, "demo: replaying an attack on a PostgreSQL server; alerts and an incident appear within seconds")
			}
		},
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(server.GCPercent)
	}
	srv, err := server.New(ctx, cfg, opts, log)
	if err != nil {
		fmt.Fprintln(io.err, "vigil serve:", err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(io.err, "vigil serve:", err)
		return 1
	}
	return 0
}
