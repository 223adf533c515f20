package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/authgate/authgate/internal/headers"
)

// errBadPath is the cause of every path refusal; the client only learns that
// the path was refused. checkPath returns one of the errors below, each
// wrapping it, so that checkRoutePath can say which rule a route's path
// breaks.
var errBadPath = errors.New("path refused")

var (
	errNoSlash      = fmt.Errorf("%w: does not start with /", errBadPath)
	errControl      = fmt.Errorf("%w: control character", errBadPath)
	errBackslash    = fmt.Errorf("%w: backslash", errBadPath)
	errNotUTF8      = fmt.Errorf("%w: not valid UTF-8", errBadPath)
	errCompat       = fmt.Errorf("%w: a compatibility character for path syntax", errBadPath)
	errDotSegment   = fmt.Errorf("%w: dot segment", errBadPath)
	errEmptySegment = fmt.Errorf("%w: empty segment", errBadPath)
)

// checkRequest applies, in order, the checks every request passes before
// CORS preflights and routing, and returns the path routes are matched
// against (see checkPath). Decide runs it first.
func checkRequest(method, host, path string) (string, *Refusal) {
	if refusedMethod(method) {
		return "", methodNotAllowed()
	}
	if err := checkHost(host); err != nil {
		return "", badHost(err)
	}
	p, err := checkPath(path)
	if err != nil {
		return "", badPath(err)
	}
	return p, nil
}

// refusedMethod reports whether method is TRACE or CONNECT, which are
// answered 405 on every path and never forwarded (docs/reference.md §3.1). TRACE
// echoes the request, headers included, back to whoever sent it (cross-site
// tracing: a script reads the cookies and the Authorization it could not
// see otherwise); CONNECT asks the gateway to open a raw tunnel to a host of
// the client's choosing, past every route. Methods are case-sensitive (RFC
// 9110 §9.1), but upstream stacks that upper-case them would run "trace" as
// TRACE, so the comparison ignores case.
func refusedMethod(method string) bool {
	return strings.EqualFold(method, http.MethodTrace) || strings.EqualFold(method, http.MethodConnect)
}

// errBadHost is the cause of every Host refusal.
var errBadHost = errors.New("host refused")

// checkHost refuses a Host whose name has an empty label ("a..b", ".a",
// "a.."): no DNS name has one, and upstreams disagree about what it is.
// Route matching ignores one trailing dot, as DNS does; lenient upstreams
// drop every trailing dot, so "admin.example.." would miss the route for
// admin.example at the gateway and reach it at the upstream. An empty Host
// (HTTP/1.0) is fine: it matches only routes without a host; a Host that
// names nothing (".", ":80") is not.
func checkHost(host string) error {
	name := hostKey(host) // port, brackets and one trailing dot removed
	if (name == "" && host != "") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("%w: empty label", errBadHost)
	}
	return nil
}

// checkPath enforces docs/reference.md §3.1 on the decoded path p and returns the
// path that routes are matched against: p with every segment's
// ";parameters" removed (p itself, without allocating, when it has none).
//
// Upstreams read paths in more ways than one, and a path that an upstream
// reads differently from the gateway is how a request routed by the gateway
// as public reaches a guarded resource ("/public/../admin" is /admin to
// every upstream that normalises it). Refusing every such path leaves
// nothing to disagree about. p is refused when:
//   - it does not start with "/";
//   - it holds a control character (headers.IsCTL: 0x00–0x1F, HTAB
//     included, and 0x7F): "%00" ends the path
//     for C-based stacks, and CR/LF split lines for those that log or
//     re-emit it;
//   - it holds a backslash ("\" or "%5C"), which Windows servers, IIS and
//     some Java and Node stacks read as "/", so "/public\..\admin" is a dot
//     segment there;
//   - it is not valid UTF-8: lenient decoders read the overlong "%C0%AE" as
//     "." and "%C0%AF" as "/", and others replace invalid bytes, so two
//     different raw paths become one;
//   - Unicode compatibility normalisation (NFKC) would add path syntax to
//     it: upstreams that normalise (Python's unicodedata, some .NET and
//     Java paths) read the fullwidth "．．／" (U+FF0E, U+FF0F) as "../",
//     and "％" (U+FF05) as a "%" that starts an escape;
//   - once each segment's ";parameters" are removed, it holds a "." or ".."
//     segment, or an empty segment ("//") other than the last. Tomcat,
//     Jetty and Spring remove path parameters before they resolve dot
//     segments, so "/public/..;/admin" is "/public/../admin" to them.
//
// The path is the decoded one (r.URL.Path), so "%2e%2e" is a dot segment,
// "%2F" a slash and "%5C" a backslash. That also makes "%3B" a ";": the
// gateway treats an encoded semicolon like a raw one, so "/x/..%3B/y" is
// refused and "/api%3Bx/y" is matched as "/api/y". Some upstreams keep
// "%3B" inside the segment name instead, and then see a different
// segment ("api;x") from the one matched, never a parent or sibling that
// the match skipped: reading it as a delimiter is the stricter choice.
func checkPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", errNoSlash
	}
	params, ascii := false, true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= utf8.RuneSelf:
			ascii = false
		case headers.IsCTL(c):
			return "", errControl
		case c == '\\':
			return "", errBackslash
		case c == ';':
			params = true
		}
	}
	if !ascii {
		if !utf8.ValidString(p) {
			return "", errNotUTF8
		}
		if addsSyntax(p) {
			return "", errCompat
		}
	}
	rest := p[1:]
	for rest != "" {
		seg, tail, more := strings.Cut(rest, "/")
		seg, _, _ = strings.Cut(seg, ";") // the segment without its parameters
		switch {
		case seg == "." || seg == "..":
			return "", errDotSegment
		case seg == "" && more:
			return "", errEmptySegment
		}
		rest = tail
	}
	if !params {
		return p, nil
	}
	return stripParams(p), nil
}

// pathSyntax are the characters whose count in a path an upstream's Unicode
// normalisation must not change.
const pathSyntax = "./\\;%"

// addsSyntax reports whether NFKC-normalising p changes how many of the
// pathSyntax characters it holds. The tables come from golang.org/x/text,
// so they follow the Unicode version rather than a list kept by hand.
func addsSyntax(p string) bool {
	n := norm.NFKC.String(p)
	for i := 0; i < len(pathSyntax); i++ {
		if strings.Count(n, pathSyntax[i:i+1]) != strings.Count(p, pathSyntax[i:i+1]) {
			return true
		}
	}
	return false
}

// stripParams removes every segment's ";parameters" from p: "/api;x/y;z"
// becomes "/api/y".
func stripParams(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != ';' {
			b.WriteByte(p[i])
			continue
		}
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			break
		}
		i += j - 1 // the loop's i++ lands on the "/"
	}
	return b.String()
}

// afterPrefix returns the index in the decoded path p just past its first n
// bytes without parameters (a prefix matched on checkPath's result) and the
// ";parameters" of the segment those bytes end in. For "/api;x/y" and the
// prefix "/api" it is the index of "/y", so strip_prefix never forwards
// ";x/y", a path without its leading "/".
func afterPrefix(p string, n int) int {
	if strings.IndexByte(p, ';') < 0 {
		return n
	}
	i := 0
	for i < len(p) && (n > 0 || p[i] == ';') {
		if p[i] == ';' {
			j := strings.IndexByte(p[i:], '/')
			if j < 0 {
				return len(p)
			}
			i += j
			continue
		}
		i++
		n--
	}
	return i
}
