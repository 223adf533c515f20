// Command authgate is a JWT-verifying reverse proxy. See README.md and
// docs/reference.md §1 for the command line.
package main

import (
	"bytes"
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

// Exit codes (docs/reference.md §1).
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

// hintError is a usage error that says in one line what to write instead
// (a positional argument where a flag was meant); it exits 2 without the
// whole usage text, which would bury the hint.
type hintError struct{ msg string }

func (e hintError) Error() string { return e.msg }

// synopses are the subcommands' usage lines, for "authgate help CMD" and
// "authgate CMD -h".
var synopses = map[string]string{
	"serve":   "authgate serve [-config FILE]\n\nRun the gateway (also what plain \"authgate\" does).",
	"check":   "authgate check [-config FILE]\n\nLoad and validate the configuration, report every problem with its file and line,\nand print the resolved routes; exit 0 if it is valid, 1 if not.",
	"demo":    "authgate demo [-listen ADDR] [-admin-listen ADDR]\n\nSelf-contained demo: a local issuer, an echo upstream and the gateway.",
	"explain": "authgate explain [-config FILE] (-route NAME | -request \"METHOD URL\") [-json] [TOKEN|-]\n\nSay step by step whether the gateway would let this token through, and why;\nexit 0 if it would, 1 if not.",
	"version": "authgate version\n\nPrint version, commit and Go version.",
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			cmd, args = "help", args[1:]
		case a == "-version" || a == "--version":
			cmd, args = "version", args[1:]
		case len(a) == 0 || a[0] != '-':
			cmd, args = a, args[1:]
		}
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
	case "help":
		err = help(ctx, args, stdout)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var ue usageError
	var he hintError
	var es exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &es):
		return int(es)
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "authgate: %s\n", he.msg)
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "authgate: %s\n\n%s", ue.msg, usage)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "authgate: %v\n", err)
		return exitError
	}
}

// help prints the usage, or with a command name that command's, to w.
func help(ctx context.Context, args []string, w io.Writer) error {
	switch {
	case len(args) == 0:
		fmt.Fprint(w, usage)
		return nil
	case len(args) > 1:
		return usageError{"help: give at most one command"}
	case synopses[args[0]] == "":
		return usageError{fmt.Sprintf("help: unknown command %q", args[0])}
	case args[0] == "version":
		fmt.Fprintf(w, "Usage: %s\n", synopses["version"])
		return nil
	}
	// The command prints its own usage, flags included, for -h.
	if code := run(ctx, []string{args[0], "-h"}, w, w); code != exitOK {
		return exitStatus(code)
	}
	return nil
}

// parseFlags parses a subcommand's flags; bad flags and stray arguments
// are usage errors. -h prints the command's usage and flags.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := parseOnly(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		msg := fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
		if fs.Lookup("config") != nil {
			// The likeliest intent: "authgate check config.yaml".
			msg += fmt.Sprintf("; to use a configuration file, write: authgate %s -config %s", fs.Name(), fs.Arg(0))
		} else {
			msg += "; see: authgate help " + fs.Name()
		}
		return hintError{msg}
	}
	return nil
}

// parseOnly parses fs's flags, leaving positional arguments to the caller.
// The flag package prints its error and the whole usage; a bad flag is said
// in one line instead, and the usage kept for -h.
func parseOnly(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	setUsage(fs)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = out.WriteTo(stderr)
			return err
		}
		return hintError{fmt.Sprintf("%s: %v; see: authgate help %s", fs.Name(), err, fs.Name())}
	}
	return nil
}

// setUsage makes fs print its command's synopsis before its flags.
func setUsage(fs *flag.FlagSet) {
	if syn := synopses[fs.Name()]; syn != "" {
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", syn)
			fs.PrintDefaults()
		}
	}
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default: $AUTHGATE_CONFIG, else environment-only mode)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	load := func() (*config.Config, error) { return config.ResolveEnviron(*path, os.Environ()) }
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
	// Every problem in one run: what loading finds (decoding, validation)
	// and what only compiling it as serve would (without starting
	// anything) finds, such as a secret file that cannot be read.
	cfg, err := config.Diagnose(*path, os.Environ())
	if cfg == nil {
		return err
	}
	err = cfg.LocateMore(err, build(cfg))
	if err != nil {
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, "warning: "+w)
		}
		return err
	}
	cfg.Describe(stdout) // includes the warnings
	fmt.Fprintf(stdout, "\n%s: configuration OK\n", cfg.Source)
	return nil
}

// build compiles cfg as serve would, for check; gateway.Build reports
// every item that fails, not only the first. cfg may be one that failed
// validation: the constructors then refuse it, and their errors repeat what
// check already reports (LocateMore leaves those out). Should a constructor
// not expect an invalid Config and panic, check still reports what loading
// found.
func build(cfg *config.Config) (err error) {
	defer func() {
		if recover() != nil {
			err = nil
		}
	}()
	_, err = gateway.Build(cfg, nil, gateway.Deps{})
	return err
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
