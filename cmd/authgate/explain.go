package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/logging"
)

// stdin is where explain reads a token given as "-" or not at all; tests
// replace it.
var stdin io.Reader = os.Stdin

// maxTokenInput bounds what explain reads from stdin: far above the
// gateway's 16 KiB token limit, so an oversized token is still explained as
// the gateway would refuse it, but not unbounded.
const maxTokenInput = 1 << 20

// exitStatus ends run with its code and no further message: the command has
// already said everything on stdout.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// explain implements `authgate explain` (docs/reference.md §1): whether the gateway
// would let a token through on a route, and why, step by step. It exits 0
// when the gateway would forward the request, 1 when it would refuse it.
func explain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (default: $AUTHGATE_CONFIG, else environment-only mode)")
	route := fs.String("route", "", "explain the token on the route with this name")
	request := fs.String("request", "", `explain the token on the route this request takes, e.g. "GET https://api.example.com/api/orders"`)
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	// Flags may come before or after the token.
	var pos []string
	for {
		if err := parseOnly(fs, args, stderr); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) > 1 {
		return usageError{"explain: give at most one token (or - for stdin)"}
	}
	if (*route == "") == (*request == "") {
		return usageError{"explain: give exactly one of -route NAME or -request \"METHOD URL\""}
	}
	q := gateway.ExplainQuery{Route: *route}
	if *request != "" {
		f := strings.Fields(*request)
		if len(f) != 2 {
			return usageError{`explain: -request wants "METHOD URL", e.g. "GET https://api.example.com/api/orders"`}
		}
		q.Method, q.URL = f[0], f[1]
	}
	var raw string
	if len(pos) == 1 && pos[0] != "-" {
		raw = pos[0]
	} else {
		if logging.IsTerminal(stdin) {
			fmt.Fprintln(stderr, "authgate explain: reading the token from stdin; paste it, then press Ctrl-D")
		}
		b, err := io.ReadAll(io.LimitReader(stdin, maxTokenInput))
		if err != nil {
			return fmt.Errorf("explain: reading the token from stdin: %w", err)
		}
		raw = string(b)
	}
	token, err := tokenFrom(raw)
	if err != nil {
		return usageError{"explain: " + err.Error()}
	}
	q.Token = token

	cfg, err := config.Resolve(*path, os.LookupEnv)
	if err != nil {
		return err
	}
	rt, err := gateway.Build(cfg, nil, gateway.Deps{})
	if err != nil {
		return err
	}
	defer rt.Handler.Close()
	rep, err := rt.Explain(ctx, q)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		renderText(stdout, rep, logging.IsTerminal(stdout))
	}
	if !rep.Verdict.Allowed {
		return exitStatus(exitError)
	}
	return nil
}

// tokenFrom accepts what a user is likely to paste: the token, "Bearer
// <token>", or a whole "Authorization: Bearer <token>" line, with
// surrounding whitespace. Empty input means no token. Errors never quote
// the input.
func tokenFrom(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if len(s) >= len("authorization:") && strings.EqualFold(s[:len("authorization:")], "authorization:") {
		s = strings.TrimSpace(s[len("authorization:"):])
	}
	if strings.EqualFold(s, "bearer") {
		return "", errors.New("no token after Bearer")
	}
	scheme, rest, found := strings.Cut(s, " ")
	if !found {
		return s, nil
	}
	if !strings.EqualFold(scheme, "bearer") {
		if strings.ContainsAny(scheme, ".") {
			// Not a scheme but a token with whitespace inside: the
			// gateway's §3.2 check says what it makes of that.
			return s, nil
		}
		return "", errors.New("the Authorization value is not of the Bearer scheme; the gateway reads only Bearer tokens")
	}
	return strings.TrimLeft(rest, " "), nil
}

// palette colours the text output; all empty without a terminal.
type palette struct{ ok, fail, dim, bold, reset string }

func newPalette(colour bool) palette {
	if !colour {
		return palette{}
	}
	return palette{ok: "\x1b[32m", fail: "\x1b[31m", dim: "\x1b[2m", bold: "\x1b[1m", reset: "\x1b[0m"}
}

// renderText prints rep for a terminal: the route, the decoded token, each
// step with ✔ or ✘, the forwarded headers and the verdict.
func renderText(w io.Writer, rep *gateway.Report, colour bool) {
	p := newPalette(colour)
	heading := func(s string) { fmt.Fprintf(w, "%s%s%s\n", p.bold, s, p.reset) }

	if rep.Request != nil {
		fmt.Fprintf(w, "%sRequest%s  %s %s\n", p.bold, p.reset, rep.Request.Method, rep.Request.URL)
	}
	if r := rep.Route; r != nil {
		fmt.Fprintf(w, "%sRoute%s    %s (%s, auth %s)\n", p.bold, p.reset, r.Name, r.Match, r.Mode)
		fmt.Fprintf(w, "  upstream   %s\n", r.Upstream)
		for _, is := range r.Issuers {
			fmt.Fprintf(w, "  issuer     %s: %s\n", is.Name, is.Issuer)
			fmt.Fprintf(w, "             audiences %s; algorithms %s; clock skew %s; required claims %s; scope claims %s\n",
				list(is.Audiences), list(is.Algorithms), is.ClockSkew, list(is.RequiredClaims), list(is.ScopeClaims))
			if len(is.TokenTypes) > 0 {
				fmt.Fprintf(w, "             token types %s\n", list(is.TokenTypes))
			}
		}
		if len(r.Audiences) > 0 {
			fmt.Fprintf(w, "  audiences  %s (the route's, replacing the issuers' own)\n", list(r.Audiences))
		}
		if r.Mode != "none" {
			if len(r.Policy) == 0 {
				fmt.Fprintf(w, "  policy     none: any verified token\n")
			}
			for _, req := range r.Policy {
				fmt.Fprintf(w, "  policy     %s\n", req)
			}
		}
	}
	for _, k := range rep.Keys {
		if k.Ready {
			fmt.Fprintf(w, "  keys       %s: %d usable key(s) from %s\n", k.Issuer, k.Keys, k.URL)
		} else {
			fmt.Fprintf(w, "  keys       %s: %sunavailable%s: %s\n", k.Issuer, p.fail, p.reset, k.Error)
		}
	}
	if len(rep.Header) > 0 {
		fmt.Fprintln(w)
		heading("Token header")
		writeJSON(w, rep.Header)
	}
	if len(rep.Claims) > 0 {
		heading("Token claims")
		writeJSON(w, rep.Claims)
	}

	if len(rep.Steps) > 0 {
		fmt.Fprintln(w)
		heading("Steps")
		after := false
		for _, s := range rep.Steps {
			if s.After && !after {
				after = true
				fmt.Fprintf(w, "  %s── the verdict is decided above; what follows is for information ──%s\n", p.dim, p.reset)
			}
			mark, col := "✔", p.ok
			if !s.OK {
				mark, col = "✘", p.fail
			}
			if s.After {
				col = p.dim
			}
			fmt.Fprintf(w, "  %s%s %d %-15s%s %s\n", col, mark, s.Stage, s.Name, p.reset, printable(s.Detail))
		}
	}
	if len(rep.Forwarded) > 0 {
		fmt.Fprintln(w)
		heading("Headers the upstream would get")
		for _, h := range rep.Forwarded {
			if h.Claim == "" {
				n, _ := base64.RawURLEncoding.DecodeString(h.Value)
				fmt.Fprintf(w, "  %s: (base64url of the payload, %d bytes)\n", h.Name, len(n))
				continue
			}
			fmt.Fprintf(w, "  %s: %s   %s(claim %s)%s\n", h.Name, printable(h.Value), p.dim, h.Claim, p.reset)
		}
	}

	fmt.Fprintln(w)
	v := rep.Verdict
	if v.Allowed {
		fmt.Fprintf(w, "%s→ the gateway would answer 200 (forwarded to %s)%s\n", p.ok+p.bold, v.Upstream, p.reset)
		fmt.Fprintf(w, "  reason: %s\n", v.Reason)
		return
	}
	ref := v.Refusal
	fmt.Fprintf(w, "%s→ %d %s: %s%s\n", p.fail+p.bold, ref.Status, ref.Code, ref.Description, p.reset)
	if ref.Challenge != "" {
		fmt.Fprintf(w, "  WWW-Authenticate: %s\n", ref.Challenge)
	}
	if ref.RetryAfter > 0 {
		fmt.Fprintf(w, "  Retry-After: %d\n", ref.RetryAfter)
	}
	if v.Note != "" {
		fmt.Fprintf(w, "  %s\n", v.Note)
	}
	switch {
	case v.Reason != "" && v.DecidedBy != "":
		fmt.Fprintf(w, "  reason: %s (decided by %s)\n", v.Reason, v.DecidedBy)
	case v.DecidedBy != "":
		fmt.Fprintf(w, "  decided by %s\n", v.DecidedBy)
	}
	if v.Fix != "" {
		fmt.Fprintf(w, "%s  fix: %s%s\n", p.bold, printable(v.Fix), p.reset)
	}
}

// writeJSON pretty-prints decoded token JSON, indented under a heading.
func writeJSON(w io.Writer, raw []byte) {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "  ", "  "); err != nil {
		fmt.Fprintf(w, "  (not valid JSON)\n")
		return
	}
	fmt.Fprintf(w, "  %s\n", printable(b.String()))
}

// printable escapes what a terminal could take for a control sequence:
// JSON escapes C0 controls in strings, but DEL and C1 controls (U+009B is
// CSI on some terminals) may stand raw in a token's claims. Such a rune
// only occurs inside a JSON string, so the \uXXXX escape keeps JSON valid.
func printable(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r == utf8.RuneError || r != '\n' && r != '\t' && !unicode.IsPrint(r) && !unicode.Is(unicode.Zs, r)
}

func list(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}
