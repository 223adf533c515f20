package verify

// Hints for the refusals that come from a provider's setup rather than from
// an attack: an iss that differs from a configured issuer only in spelling,
// and an empty aud. They end up in the refusal's text (the access log) and
// in explain; they quote only the token's iss, which is not secret, cut to
// maxQuoted bytes, never the token.

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxQuoted bounds how much of a client-supplied value (iss) a message
// quotes. It is longer than maxLoggedKID: real issuer URLs with a tenant id
// (https://login.microsoftonline.com/<uuid>/v2.0) run to about 80 bytes.
const maxQuoted = 200

// EmptyAudienceHint is the refusal detail for `"aud": []`, what Kinde (and
// others) issue when the client asked for no registered API.
const EmptyAudienceHint = "aud is an empty list: the token was issued for no API — register the API in your provider (Kinde: Settings → APIs) and pass its audience to the frontend SDK (audience: ...)"

// quoteCut quotes s for a message, cut to maxQuoted bytes on a rune
// boundary with "…" after the quote where it was cut.
func quoteCut(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	i := maxQuoted
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strconv.Quote(s[:i]) + "…"
}

// untrustedIssuer words the untrusted_issuer detail for a present iss: the
// iss itself, quoted, and when it differs from one of the route's issuers
// only by a trailing slash, the scheme or case, that issuer and the fix
// (IssuerNearMiss). The exact-match rule stays as it is: this only explains
// a refusal.
func (v *Verifier) untrustedIssuer(claim any) string {
	iss, ok := claim.(string)
	if !ok {
		return "iss is not a string"
	}
	if h := v.IssuerNearMiss(iss); h != "" {
		return h
	}
	return "iss " + quoteCut(iss) + " is not one of the route's issuers"
}

// IssuerNearMiss says, when iss differs from the issuer URL of one of the
// route's issuers only by a trailing slash, the http/https scheme or letter
// case, how, and what to write instead:
//
//	iss "https://x.kinde.com" differs from issuer "https://x.kinde.com/" of issuer kinde only by a trailing slash: write issuer: https://x.kinde.com
//
// It is "" for any other iss. Several near misses: the least URL wins, so
// the text does not depend on map order.
func (v *Verifier) IssuerNearMiss(iss string) string {
	if len(iss) > maxQuoted {
		return "" // a near miss is as long as a configured issuer, give or take a few bytes
	}
	best, how := "", ""
	for configured := range v.byIss {
		if h := nearMiss(iss, configured); h != "" && (how == "" || configured < best) {
			best, how = configured, h
		}
	}
	if how == "" {
		return ""
	}
	return "iss " + quoteCut(iss) + " differs from issuer " + strconv.Quote(best) +
		" of issuer " + v.byIss[best].opts.Name + " only by " + how + ": write issuer: " + plainOrQuoted(iss)
}

// nearMiss says how iss differs from configured when it differs only by a
// trailing slash, the http/https scheme or letter case, or any of these
// together: "a trailing slash", "the scheme (http, https)", "case". It is ""
// when they are equal or differ otherwise.
func nearMiss(iss, configured string) string {
	if iss == configured {
		return ""
	}
	a, b := iss, configured
	var ways []string
	if sa, sb := strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"); (sa != a) != (sb != b) {
		ways = append(ways, "a trailing slash")
		a, b = sa, sb
	}
	ra, sa := cutScheme(a)
	rb, sb := cutScheme(b)
	if sa != "" && sb != "" && !strings.EqualFold(sa, sb) {
		ways = append(ways, "the scheme ("+strings.ToLower(sa)+", "+strings.ToLower(sb)+")")
		a, b = ra, rb
	}
	if a != b {
		if !strings.EqualFold(a, b) {
			return ""
		}
		ways = append(ways, "case")
	}
	switch len(ways) {
	case 0:
		return ""
	case 1:
		return ways[0]
	}
	return strings.Join(ways[:len(ways)-1], ", ") + " and " + ways[len(ways)-1]
}

// cutScheme splits an http or https URL into what follows "://" and its
// scheme; scheme is "" for anything else.
func cutScheme(u string) (rest, scheme string) {
	for _, s := range []string{"https://", "http://"} {
		if len(u) >= len(s) && strings.EqualFold(u[:len(s)], s) {
			return u[len(s):], u[:len(s)-3]
		}
	}
	return u, ""
}

// plainOrQuoted writes s bare when it is safe in YAML and on a terminal
// (printable ASCII without spaces, quotes or '#'), else quoted.
func plainOrQuoted(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '#' {
			return strconv.Quote(s)
		}
	}
	return s
}

// ScopeClaims returns the scope_claims of the route's issuer with this
// configured name, nil when the route has no such issuer. The slice is
// shared; callers must not modify it.
func (v *Verifier) ScopeClaims(issuer string) []string {
	for _, is := range v.byIss {
		if is.opts.Name == issuer {
			return is.opts.ScopeClaims
		}
	}
	return nil
}
