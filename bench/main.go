// Command bench is authgate's load benchmark. On loopback it builds the
// real authgate binary, starts an upstream and a bare httputil.ReverseProxy
// (each in a process of its own, re-executing this binary), a local OIDC
// issuer and authgate, drives each with the same keep-alive load (wrk when
// installed, else a built-in Go load generator) and prints one Markdown
// table of requests/s, latency percentiles, CPU per request and peak RSS
// per scenario, with ratios to the bare proxy.
//
//	go run ./bench              # the default run, a few minutes
//	go run ./bench -quick       # a smoke run of a few seconds
//	go run ./bench -out bench.md -authgate ./authgate
//
// Every scenario's answers are counted by status code, and a run in which
// any scenario got other answers than it expects fails instead of
// reporting a number.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(runChild(os.Args[2:]))
	}
	os.Exit(benchMain(os.Args[1:]))
}

// benchMain parses flags, runs the benchmark and prints the table; it
// returns the exit code (2 for a usage error).
func benchMain(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := options{Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...) }}
	fs.StringVar(&o.Authgate, "authgate", "", "prebuilt authgate binary (default: go build ./cmd/authgate)")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "load time per scenario per round (wrk rounds it to whole seconds)")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "load time per scenario before the first round, not counted")
	fs.IntVar(&o.Rounds, "rounds", 3, "interleaved rounds; the table shows medians")
	fs.IntVar(&o.Conns, "conns", 64, "keep-alive connections")
	fs.StringVar(&o.Load, "load", "auto", "load generator: auto (wrk when installed), wrk or go")
	fs.StringVar(&o.Pin, "pin", "both", "CPU placement: both, pinned (proxy on core 1, the rest on core 0) or unpinned")
	scen := fs.String("scenarios", "", "comma-separated scenarios (default all): "+strings.Join(scenarioKeys, ","))
	fs.BoolVar(&o.Extras, "extras", true, "also measure idle RSS, RSS with idle connections and p99 during a refetch storm")
	fs.IntVar(&o.IdleConns, "idle-conns", 10000, "idle keep-alive connections to hold for the RSS measurement")
	fs.DurationVar(&o.StormDelay, "storm-delay", 200*time.Millisecond, "how late the issuer's JWKS answers during the refetch storm")
	quick := fs.Bool("quick", false, "smoke run: one unpinned round of 1s per scenario, 1000 idle connections")
	out := fs.String("out", "", "also write the Markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *quick {
		o.applyQuick(setFlags(fs))
	}
	if *scen != "" {
		o.Scenarios = strings.Split(*scen, ",")
	}
	if o.Rounds < 1 || o.Conns < 1 || o.Duration <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -rounds, -conns and -duration must be positive")
		return 2
	}
	switch {
	case o.Load != "auto" && o.Load != "wrk" && o.Load != "go":
		fmt.Fprintf(os.Stderr, "bench: -load %q: want auto, wrk or go\n", o.Load)
		return 2
	case o.Pin != "both" && o.Pin != "pinned" && o.Pin != "unpinned":
		fmt.Fprintf(os.Stderr, "bench: -pin %q: want both, pinned or unpinned\n", o.Pin)
		return 2
	}
	o.Command = "go run ./bench"
	if len(args) > 0 {
		o.Command += " " + strings.Join(args, " ")
	}
	rep, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	md := rep.markdown()
	fmt.Print(md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	return 0
}

// setFlags is the set of flag names given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// applyQuick turns the defaults into a smoke run; flags given explicitly
// keep their values.
func (o *options) applyQuick(set map[string]bool) {
	quick := map[string]func(){
		"duration":   func() { o.Duration = time.Second },
		"warmup":     func() { o.Warmup = 0 },
		"rounds":     func() { o.Rounds = 1 },
		"pin":        func() { o.Pin = "unpinned" },
		"idle-conns": func() { o.IdleConns = 1000 },
	}
	for name, apply := range quick {
		if !set[name] {
			apply()
		}
	}
}
