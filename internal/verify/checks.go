package verify

// The checks of docs/reference.md §3.3 step 6 on claims already decoded: the time
// claims (exp, nbf, iat), the audience, and reading the granted scopes.

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/reason"
)

// checkExpiry checks exp (RFC 7519 §4.1.4) against now with skew. Like nbf
// and iat it is optional here (required_claims makes it mandatory) but must
// be a JSON number when present.
func checkExpiry(exp date, now time.Time, skew time.Duration) error {
	if exp.err != nil {
		return exp.err
	}
	if exp.ok && now.After(exp.t.Add(skew)) {
		return fmt.Errorf("%w: exp is %s before now (skew %s)", reason.ErrExpired, now.Sub(exp.t).Round(time.Second), skew)
	}
	return nil
}

// checkNotBefore checks nbf (RFC 7519 §4.1.5) against now with skew.
func checkNotBefore(nbf date, now time.Time, skew time.Duration) error {
	if nbf.err != nil {
		return nbf.err
	}
	if nbf.ok && now.Before(nbf.t.Add(-skew)) {
		return fmt.Errorf("%w: nbf is %s after now (skew %s)", reason.ErrNotYetValid, nbf.t.Sub(now).Round(time.Second), skew)
	}
	return nil
}

// checkIssuedAt refuses an iat (RFC 7519 §4.1.6) in the future beyond skew:
// such a token comes from a misconfigured issuer or clock.
func checkIssuedAt(iat date, now time.Time, skew time.Duration) error {
	if iat.err != nil {
		return iat.err
	}
	if iat.ok && iat.t.After(now.Add(skew)) {
		return fmt.Errorf("%w: iat is %s after now (skew %s)", reason.ErrNotYetValid, iat.t.Sub(now).Round(time.Second), skew)
	}
	return nil
}

// maxDate bounds NumericDates so that adding a skew cannot overflow
// time.Time arithmetic: about 292 years either side of 1970 is plenty.
const maxDate = math.MaxInt64/int64(time.Second) - 1<<32

// date is a time claim as numericDate read it: absent (ok false), a time,
// or the malformed error it is refused with when checked.
type date struct {
	t   time.Time
	ok  bool
	err error
}

// readDate reads claim name once, for the checks above.
func readDate(claims map[string]any, name string) date {
	t, ok, err := numericDate(claims, name)
	return date{t: t, ok: ok, err: err}
}

// numericDate reads claim name as a NumericDate (RFC 7519 §2): seconds since
// the epoch, possibly fractional. Absent: ok false. Not a number: malformed.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, false, fmt.Errorf("%w: %s is not a number", reason.ErrMalformed, name)
	}
	if i, err := n.Int64(); err == nil {
		return time.Unix(clamp(i), 0), true, nil
	}
	f, err := n.Float64()
	if err != nil && !math.IsInf(f, 0) {
		return time.Time{}, false, fmt.Errorf("%w: %s is not a number", reason.ErrMalformed, name)
	}
	// Out-of-range values (1e300, or integers past int64) saturate.
	switch {
	case f >= float64(maxDate):
		return time.Unix(maxDate, 0), true, nil
	case f <= -float64(maxDate):
		return time.Unix(-maxDate, 0), true, nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func clamp(i int64) int64 {
	return max(-maxDate, min(i, maxDate))
}

// checkAudience requires aud (a string or an array of strings, RFC 7519
// §4.1.3) to hold at least one allowed value. Several allowed audiences
// therefore mean "any of", not "all of".
func checkAudience(claims map[string]any, allowed set) error {
	switch aud := claims["aud"].(type) {
	case nil:
		return fmt.Errorf("%w: no aud claim", reason.ErrBadAudience)
	case string:
		if allowed.has(aud) {
			return nil
		}
	case []any:
		if len(aud) == 0 {
			return fmt.Errorf("%w: %s", reason.ErrBadAudience, EmptyAudienceHint)
		}
		found := false
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return fmt.Errorf("%w: aud holds a non-string", reason.ErrMalformed)
			}
			found = found || allowed.has(s)
		}
		if found {
			return nil
		}
	default:
		return fmt.Errorf("%w: aud is neither a string nor an array", reason.ErrMalformed)
	}
	return fmt.Errorf("%w: aud holds none of the allowed audiences", reason.ErrBadAudience)
}

// isEmptyList reports whether a decoded claim is the empty array.
func isEmptyList(v any) bool {
	a, ok := v.([]any)
	return ok && len(a) == 0
}

// scopes returns the union of the granted scopes in the named claims, each a
// space-separated string (RFC 8693 §4.2, RFC 9068 §2.2.3) or an array of
// strings (the scp convention), deduplicated in order of first appearance.
// Values of other types grant nothing.
func scopes(claims map[string]any, names []string) []string {
	var out []string
	add := func(s string) {
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, name := range names {
		switch v := claims[name].(type) {
		case string:
			for _, s := range strings.Fields(v) {
				add(s)
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok && s != "" {
					add(s)
				}
			}
		}
	}
	return out
}
