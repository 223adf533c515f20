package proxy

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/reason"
)

// Outcome is what Observe learns about one request once its response is
// written. Every field is bounded: it is safe as metric labels.
type Outcome struct {
	// Route is the matched route's name, or "none".
	Route string
	// RouteIndex is the matched route's index in Options.Routes, or -1 for
	// "none", so that an observer can find per-route state without a
	// lookup by name.
	RouteIndex int
	// Method is the request method if it is one of RFC 9110's and PATCH,
	// otherwise "OTHER", so a client cannot mint label values.
	Method string
	// Status is the status the client got: 101 for an upgrade, 499 when the
	// client went away first.
	Status int
	// Issuer is the configured name of the issuer that vouched for or
	// refused the token, or "" when none is known.
	Issuer string
	// Reason is the authentication decision (reason.OK, reason.Anonymous,
	// reason.Public, or a deny reason), or "" when none was made (bad path,
	// no route, an internal error).
	Reason reason.Reason
	// Duration is the time from receiving the request to finishing the
	// response (for an upgrade: until the connection closed).
	Duration time.Duration
	// UpstreamDuration is the time from forwarding until the upstream's
	// response headers or failure; zero if the request was not forwarded.
	UpstreamDuration time.Duration
	// UpstreamError is "" or the kind of upstream failure: "unreachable",
	// "timeout", or "credentials" (the route's Credential could not supply
	// a token).
	UpstreamError string
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true,
	http.MethodOptions: true, http.MethodTrace: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "OTHER"
}

// finish writes the access line and reports the Outcome. It runs once per
// request, after the response, from ServeHTTP's outermost defer. The line
// holds request_id, method, path (never the query), route, status,
// duration, issuer, sub and reason; upstream_error
// (unreachable, timeout, credentials) when forwarding failed; cors (allowed, refused)
// and cors_refused (origin_not_allowed, method_not_allowed,
// header_not_allowed) when CORS is configured and the request has an
// Origin; error, the redacted cause, when there is one.
func (h *Handler) finish(ex *exchange, r *http.Request) {
	status := ex.rec.status
	if status == 0 {
		status = http.StatusOK // the handler returned without writing
	}
	routeName, routeIndex := noRoute, -1
	if ex.route != nil {
		routeName, routeIndex = ex.route.Name, ex.route.index
	}
	dur := time.Since(ex.start)
	if h.observe != nil {
		h.observe(Outcome{
			Route: routeName, RouteIndex: routeIndex, Method: methodLabel(r.Method), Status: status,
			Issuer: ex.issuer, Reason: ex.reason, Duration: dur,
			UpstreamDuration: ex.upstreamDur, UpstreamError: ex.upstreamErr,
		})
	}
	var cause string
	if ex.err != nil && ex.err.cause != nil {
		cause = redact(ex.err.cause.Error(), ex.token)
	}
	if h.accessLog {
		attrs := []slog.Attr{
			slog.String("request_id", ex.requestID),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path), // never RawQuery: queries carry secrets
			slog.String("route", routeName),
			slog.Int("status", status),
			slog.Duration("duration", dur),
			slog.String("issuer", ex.issuer),
			slog.String("sub", ex.subject),
			slog.String("reason", string(ex.reason)),
		}
		if ex.upstreamErr != "" {
			// Next to reason, which stays the authentication decision: a
			// 502 after reason=ok means the token passed and the upstream
			// then failed.
			attrs = append(attrs, slog.String("upstream_error", ex.upstreamErr))
		}
		if ex.cors != "" {
			attrs = append(attrs, slog.String("cors", ex.cors))
			if ex.corsRefused != "" {
				attrs = append(attrs, slog.String("cors_refused", ex.corsRefused))
			}
		}
		if cause != "" {
			attrs = append(attrs, slog.String("error", cause))
		}
		h.logger.LogAttrs(r.Context(), accessLevel(status), "request", attrs...)
	} else if status >= 500 && cause != "" {
		h.logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", ex.requestID), slog.String("route", routeName),
			slog.Int("status", status), slog.String("error", cause))
	}
}

// accessLevel is the access line's level: warn for a 5xx, whether the
// gateway or the upstream made it, so that an operator filtering on warn
// sees every failure the service owes its clients; info for the rest, 4xx
// included (a client's mistake or a refusal working as intended) and 499.
func accessLevel(status int) slog.Level {
	if status >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// redact removes the token, and each of its dot-separated parts, from a
// logged error text. Authenticators should never quote a token, but a
// library error might echo a piece of one; this is the last line of defence
// for "a token never appears in any log line".
func redact(s, token string) string {
	if token == "" {
		return s
	}
	s = strings.ReplaceAll(s, token, "[token]")
	for part := range strings.SplitSeq(token, ".") {
		if len(part) >= 8 {
			s = strings.ReplaceAll(s, part, "[token]")
		}
	}
	return s
}
