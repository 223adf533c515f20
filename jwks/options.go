package jwks

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Contract defaults (CONTRACT §2.1, issuers[].jwks).
const (
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultMaxStale           = 24 * time.Hour
	DefaultTimeout            = 5 * time.Second
)

// Options configure a Cache. New fills zero durations with the contract defaults
// (RefreshInterval 15m, MinRefreshInterval 30s, MaxStale 24h, Timeout 5s).
type Options struct {
	// Issuer is the iss URL; it is used for OIDC discovery when JWKSURL is
	// empty, and then must be an absolute http(s) URL without query or
	// fragment, and the discovery document must name exactly this issuer
	// (byte for byte) or the fetch fails.
	Issuer string
	// JWKSURL is where the key set is fetched. Empty: discover jwks_uri from
	// {Issuer}/.well-known/openid-configuration.
	JWKSURL string
	// RefreshInterval is the period of background refreshes; a shorter
	// Cache-Control max-age from the issuer is honoured.
	RefreshInterval time.Duration
	// MinRefreshInterval bounds fetches of any kind to one per interval once a
	// key set exists, and on-demand refetches for unknown kids always.
	MinRefreshInterval time.Duration
	// MaxStale is how long the last good set keeps serving while fetches fail.
	MaxStale time.Duration
	// Timeout bounds each HTTP exchange (discovery, key set).
	Timeout time.Duration
	// Client performs the requests. Nil: a private client with Timeout.
	Client *http.Client
	// Logger receives fetch outcomes and skipped keys. Nil: discard.
	Logger *slog.Logger
	// Now is the clock. Nil: time.Now (tests inject a clock).
	Now func() time.Time
	// Observe, if set, is called once per fetch with "success", "error" or
	// "not_modified", and the number of usable keys after it (metrics hook; a later
	// issue wires Prometheus to it).
	Observe func(result string, keys int)
}

// Results passed to Options.Observe; they are the values of the result label
// of authgate_jwks_fetches_total (CONTRACT §4).
const (
	ResultSuccess     = "success"
	ResultError       = "error"
	ResultNotModified = "not_modified"
)

// withDefaults returns o with zero values replaced by defaults.
func (o Options) withDefaults() Options {
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MinRefreshInterval == 0 {
		o.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if o.MaxStale == 0 {
		o.MaxStale = DefaultMaxStale
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// validate checks options that have had their defaults filled in.
func (o Options) validate() error {
	var errs []error
	if o.JWKSURL != "" {
		if _, err := parseHTTPURL(o.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("jwks_url: %w", err))
		}
	} else {
		switch u, err := parseHTTPURL(o.Issuer); {
		case o.Issuer == "":
			errs = append(errs, errors.New("issuer: required when jwks_url is empty"))
		case err != nil:
			errs = append(errs, fmt.Errorf("issuer: %w", err))
		case u.RawQuery != "" || u.Fragment != "":
			// OpenID Connect Discovery 1.0 §4: the issuer has no query or fragment.
			errs = append(errs, errors.New("issuer: must not have a query or fragment for discovery"))
		}
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"refresh_interval", o.RefreshInterval},
		{"min_refresh_interval", o.MinRefreshInterval},
		{"max_stale", o.MaxStale},
		{"timeout", o.Timeout},
	}
	for _, f := range durations {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("jwks.%s: must not be negative", f.name))
		}
	}
	if o.MinRefreshInterval > o.RefreshInterval {
		errs = append(errs, fmt.Errorf("jwks.min_refresh_interval: %s exceeds refresh_interval %s",
			o.MinRefreshInterval, o.RefreshInterval))
	}
	// A set older than max_stale stops serving; if that can happen before the
	// next scheduled refresh, keys would vanish every cycle.
	if o.MaxStale < o.RefreshInterval {
		errs = append(errs, fmt.Errorf("jwks.max_stale: %s is shorter than refresh_interval %s",
			o.MaxStale, o.RefreshInterval))
	}
	return errors.Join(errs...)
}

// parseHTTPURL parses s and requires an absolute http or https URL with a host.
func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the input, which may hold credentials or a query.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a valid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return nil, errors.New("must be an absolute URL with a host")
	}
	return u, nil
}

// redact renders u for logs and errors: no user info, no query, no fragment,
// since any of them may carry a secret.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	c.RawFragment = ""
	return c.String()
}

// redactString is redact for a URL held as a string; unparsable input is
// cut at the first '?' or '#' and stripped of anything before an '@'.
func redactString(s string) string {
	if u, err := url.Parse(s); err == nil {
		return redact(u)
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			s = s[:j+3] + s[i+1:]
		}
	}
	return s
}
