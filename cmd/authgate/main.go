// Command authgate is a JWT-verifying reverse proxy. See README.md and
// CONTRACT §1 for the command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/demo"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/logging"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// Exit codes (CONTRACT §1).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `authgate — a JWT-verifying reverse proxy

Usage:
  authgate serve   [-config FILE]   run the gateway (also what plain "authgate" does)
  authgate check   [-config FILE]   validate the configuration and print the resolved routes
  authgate demo    [-listen ADDR] [-admin-listen ADDR]
                                    self-contained demo: local issuer + echo upstream + gateway
  authgate explain [-config FILE] (-route NAME | -request "METHOD URL") [-json] [TOKEN|-]
                                    say step by step whether the gateway would let this token
                                    through, and why; exit 0 if it would, 1 if not
  authgate version                  print version, commit and Go version

Configuration source, first that applies: -config FILE; AUTHGATE_CONFIG;
environment-only mode (AUTHGATE_UPSTREAM and AUTHGATE_ISSUER set).
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks errors that exit with code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stderr)
	case "check":
		err = check(args, stdout, stderr)
	case "demo":
		err = runDemo(ctx, args, stdout, stderr)
	case "explain":
		err = explain(ctx, args, stdout, stderr)
	case "version":
		printVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var ue usageError
	var es exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &es):
		return int(es)
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "authgate: %s\n\n%s", ue.msg, usage)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "authgate: %v\n", err)
		return exitError
	}
}

// parseFlags parses a subcommand's flags; bad flags and stray arguments
// are usage errors.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default: $AUTHGATE_CONFIG, else environment-only mode)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	load := func() (*config.Config, error) { return config.Resolve(*path, os.LookupEnv) }
	cfg, err := load()
	if err != nil {
		return err
	}
	level, logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	v, _ := buildVersion()
	return gateway.Serve(ctx, gateway.Options{Config: cfg, Reload: load, Logger: logger, LogLevel: level, Version: v})
}

func newLogger(cfg *config.Config, w io.Writer) (*slog.LevelVar, *slog.Logger, error) {
	lv, err := logging.ParseLevel(cfg.Log.Level)
	if err != nil {
		return nil, nil, err
	}
	level := new(slog.LevelVar)
	level.Set(lv)
	return level, logging.New(w, cfg.Log.Format, level), nil
}

func check(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default: $AUTHGATE_CONFIG, else environment-only mode)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := config.Resolve(*path, os.LookupEnv)
	if err != nil {
		return err
	}
	// Compile it as serve would (without starting anything), so check
	// catches everything serve would refuse.
	if _, err := gateway.Build(cfg, nil, gateway.Deps{}); err != nil {
		return err
	}
	cfg.Describe(stdout) // includes the warnings
	fmt.Fprintf(stdout, "\n%s: configuration OK\n", cfg.Source)
	return nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "gateway address")
	admin := fs.String("admin-listen", "127.0.0.1:9090", "admin address (/healthz, /readyz)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	level := new(slog.LevelVar)
	return demo.Run(ctx, demo.Options{
		Listen:      *listen,
		AdminListen: *admin,
		Out:         stdout,
		Logger:      logging.New(stderr, "text", level),
		LogLevel:    level,
	})
}

func printVersion(w io.Writer) {
	v, c := buildVersion()
	fmt.Fprintf(w, "authgate %s (commit %s, %s %s/%s)\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// buildVersion is the version and commit stamped at build (-ldflags -X),
// else those the Go toolchain recorded, else "dev" and "unknown". The
// version is also authgate_build_info's version label.
func buildVersion() (v, c string) {
	v, c = version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}
