package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// childArg is the hidden first argument that makes the bench binary run as
// one of its own child processes instead of the benchmark.
const childArg = "__child"

// upstreamBody is what the upstream answers to every request: small and
// fixed, so the figures measure the proxies, not the backend.
var upstreamBody = []byte(`{"ok":true}` + "\n")

// runChild runs the child role named by args[0] and returns the exit code.
func runChild(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "bench: child role missing")
		return 2
	}
	var err error
	switch args[0] {
	case "upstream":
		err = serveListening(upstreamHandler())
	case "proxy":
		fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
		target := fs.String("upstream", "", "upstream base URL")
		if err = fs.Parse(args[1:]); err == nil {
			var h http.Handler
			if h, err = bareProxy(*target); err == nil {
				err = serveListening(h)
			}
		}
	case "load":
		err = loadChild(args[1:])
	default:
		err = fmt.Errorf("unknown child role %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	return 0
}

// upstreamHandler answers every request 200 with upstreamBody.
func upstreamHandler() http.Handler {
	n := strconv.Itoa(len(upstreamBody))
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{n}
		_, _ = w.Write(upstreamBody)
	})
}

// bareProxy is the baseline: httputil.ReverseProxy and nothing else, with
// the idle pool a fair production setup would give it (as large as
// authgate's, far above the 64 connections the load uses).
func bareProxy(target string) (http.Handler, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("proxy: bad -upstream %q", target)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.SetXForwarded()
		},
		Transport: t,
	}, nil
}

// serveListening serves h on a loopback port and prints "LISTEN host:port"
// on stdout, which the parent waits for. It runs until killed.
func serveListening(h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	return srv.Serve(ln)
}

// loadChild runs the built-in load generator from flags and prints its
// result as JSON on stdout.
func loadChild(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var s loadSpec
	fs.StringVar(&s.URL, "url", "", "target URL")
	fs.IntVar(&s.Conns, "c", 64, "connections")
	fs.DurationVar(&s.Duration, "d", time.Second, "duration")
	tokens := fs.String("tokens", "", "file of bearer tokens, one per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tokens != "" {
		b, err := os.ReadFile(*tokens)
		if err != nil {
			return err
		}
		s.Tokens = strings.Fields(string(b))
	}
	res, err := goLoad(s)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
