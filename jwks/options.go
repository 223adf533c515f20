package jwks

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/httpurl"
)

// Contract defaults (docs/reference.md §2.1, issuers[].jwks).
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
	// empty, and then must be an absolute http(s) URL without user
	// information, query or fragment, and the discovery document must name
	// exactly this issuer (byte for byte) or the fetch fails.
	Issuer string
	// JWKSURL is where the key set is fetched: an absolute http(s) URL
	// without user information (a query is fine). Empty: discover jwks_uri
	// from {Issuer}/.well-known/openid-configuration.
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
// of authgate_jwks_fetches_total (docs/reference.md §4).
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

// Validate reports every problem New would refuse in o, as *field.Error
// values whose paths are those of an issuer's settings in the configuration
// (issuer, jwks_url, jwks.refresh_interval, …). Zero durations are read as
// their defaults, as New reads them. It builds nothing.
func (o Options) Validate() error { return o.withDefaults().validate() }

// validate checks options that have had their defaults filled in.
func (o Options) validate() error {
	var errs []error
	if o.JWKSURL != "" {
		if _, err := httpurl.Parse(o.JWKSURL); err != nil {
			errs = append(errs, &field.Error{Path: "jwks_url", Err: err})
		}
	} else if err := checkDiscoveryIssuer(o.Issuer); err != nil {
		errs = append(errs, &field.Error{Path: "issuer", Err: err})
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
			errs = append(errs, field.Errorf("jwks."+f.name, "must not be negative"))
		}
	}
	// The comparisons are skipped for a negative value, reported above.
	if o.MinRefreshInterval > o.RefreshInterval && o.RefreshInterval > 0 {
		errs = append(errs, field.Errorf("jwks.min_refresh_interval", "must not exceed refresh_interval (%s)", o.RefreshInterval))
	}
	// A set older than max_stale stops serving; if that can happen before the
	// next scheduled refresh, keys would vanish every cycle.
	if o.MaxStale < o.RefreshInterval && o.MaxStale > 0 {
		errs = append(errs, field.Errorf("jwks.max_stale", "must not be shorter than refresh_interval (%s)", o.RefreshInterval))
	}
	return errors.Join(errs...)
}

// checkDiscoveryIssuer checks the issuer URL that discovery reads
// {issuer}/.well-known/openid-configuration from: an absolute http or https
// URL (httpurl.Check) without query or fragment (OpenID Connect Discovery
// 1.0 §4).
func checkDiscoveryIssuer(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	u, err := httpurl.Parse(s)
	if err == nil && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "") {
		err = errors.New("must not have a query or fragment")
	}
	if err != nil {
		return fmt.Errorf("%w (with jwks_url empty, the key set is discovered at {issuer}%s)", err, discoveryPath)
	}
	return nil
}

// parseHTTPURL parses the jwks_uri of a discovery document and requires an
// absolute http or https URL with a host. It is the rule for a URL the
// issuer publishes at run time; a configured URL is checked by validate.
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
