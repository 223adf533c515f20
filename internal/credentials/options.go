// Package credentials obtains the tokens the gateway sends upstream
// (docs/reference.md §3.8): its own, with the OAuth 2.0 client-credentials grant
// (RFC 6749 §4.4), cached behind an atomic pointer and refreshed ahead of
// expiry by a background loop, so no request waits on a refresh
// (ClientCredentials); and one per client token, exchanged from the
// client's verified token (RFC 8693) and cached per client token
// (TokenExchange). Both share one token endpoint client (endpoint).
package credentials

import (
	"errors"
	"fmt"

	"github.com/authgate/authgate/internal/envvar"

	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/httpurl"
	"github.com/authgate/authgate/policy"
)

// Auth methods (RFC 6749 §2.3.1).
const (
	// AuthBasic sends client_id and secret as HTTP Basic credentials, each
	// form-urlencoded first.
	AuthBasic = "client_secret_basic"
	// AuthPost sends client_id and client_secret in the form body.
	AuthPost = "client_secret_post"
)

// Defaults that New fills in.
const (
	// DefaultRefreshBefore is how long before expiry a token is refreshed.
	DefaultRefreshBefore = 60 * time.Second
	// DefaultTimeout bounds one token request, connection to body.
	DefaultTimeout = 10 * time.Second
	// DefaultLifetime is assumed when the token response has no expires_in
	// (RFC 6749 §5.1 makes it RECOMMENDED only). It is shorter than the
	// usual lifetimes of identity providers (5m to 24h), so a token of
	// unknown life is replaced early rather than sent after it expired;
	// an early refresh costs one request every few minutes.
	DefaultLifetime = 5 * time.Minute
	// MinLifetime is the shortest lifetime believed: an expires_in of 0 or
	// 1 would otherwise make the refresh loop fetch continuously.
	MinLifetime = 10 * time.Second
	// maxBody bounds the token response read.
	maxBody = 1 << 20
)

// Options configures a ClientCredentials source. Field paths in
// Validate's and New's errors are those of the configuration relative to
// the credential (client_credentials.token_url).
type Options struct {
	// Name is the configured credential name; it labels logs, metrics and
	// errors.
	Name string
	// TokenURL is the token endpoint, an absolute http(s) URL.
	TokenURL string
	// ClientID is the gateway's client identifier, required.
	ClientID string
	// SecretFile and SecretEnv name where the client secret is read from,
	// exactly one of them: a file (one trailing newline trimmed) or an
	// environment variable. New reads it; the value is never logged nor
	// put in an error.
	SecretFile, SecretEnv string
	// AuthMethod is AuthBasic (default, "") or AuthPost.
	AuthMethod string
	// Scopes are sent space-joined as scope; each is an RFC 6749 §3.3
	// scope token.
	Scopes []string
	// Audience, when set, is sent as the audience parameter.
	Audience string
	// Resource entries are sent as one resource parameter each (RFC 8707).
	Resource []string
	// RefreshBefore is how long before expiry the background loop fetches
	// a new token; 0 means DefaultRefreshBefore, negative is an error.
	RefreshBefore time.Duration
	// Timeout bounds one token request; 0 means DefaultTimeout.
	Timeout time.Duration

	// Logger receives fetch failures of the background loop. Nil: discarded.
	Logger *slog.Logger
	// Now is the clock of expiry and refresh times. Nil: time.Now.
	Now func() time.Time
	// After is the refresh loop's timer, time.After when nil; tests pass
	// one they fire themselves.
	After func(time.Duration) <-chan time.Time
	// Getenv reads SecretEnv. Nil: os.Getenv.
	Getenv func(string) string
	// Transport carries token requests. Nil: http.DefaultTransport.
	Transport http.RoundTripper
	// Fetched, if set, is called after every token request with whether it
	// produced a token (metrics.CredentialFetched).
	Fetched func(ok bool)
	// Expires, if set, is called with the expiry of every new token
	// (metrics.SetCredentialExpiry).
	Expires func(time.Time)
}

const ccPath = "client_credentials"

// ErrSecretUnavailable is wrapped by New's error when the secret file or
// variable cannot be read or is empty: a fault of the environment the
// gateway runs in rather than of the configuration, which Validate (and
// so config.Load) does not read, and New does.
var ErrSecretUnavailable = errors.New("client secret unavailable")

// Validate reports every configuration error of o, as field errors. It
// does not read the secret: New does.
func (o Options) Validate() error { return o.validate(ccPath) }

// validate is Validate with the fields under path (the grant's block).
func (o Options) validate(ccPath string) error {
	var errs []error
	add := func(name, format string, args ...any) {
		errs = append(errs, field.Errorf(ccPath+"."+name, format, args...))
	}
	if o.TokenURL == "" {
		add("token_url", "must not be empty")
	} else if _, err := httpurl.Parse(o.TokenURL); err != nil {
		errs = append(errs, &field.Error{Path: ccPath + ".token_url", Err: err})
	}
	if o.ClientID == "" {
		add("client_id", "must not be empty")
	}
	if (o.SecretFile == "") == (o.SecretEnv == "") {
		errs = append(errs, field.Errorf(ccPath, "set exactly one of client_secret_file or client_secret_env"))
	}
	if o.SecretEnv != "" && !envvar.ValidName(o.SecretEnv) {
		add("client_secret_env", "must be an environment variable name")
	}
	switch o.AuthMethod {
	case "", AuthBasic, AuthPost:
	default:
		add("auth_method", "must be %s or %s", AuthBasic, AuthPost)
	}
	for i, s := range o.Scopes {
		if !policy.IsScopeToken(s) {
			errs = append(errs, field.Errorf(field.Index(ccPath+".scopes", i), "must be a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"))
		}
	}
	for i, r := range o.Resource {
		// RFC 8707 §2: an absolute URI without a fragment.
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r, "#") {
			errs = append(errs, field.Errorf(field.Index(ccPath+".resource", i), "must be an absolute URI without a fragment (RFC 8707 §2)"))
		}
	}
	if o.RefreshBefore < 0 {
		add("refresh_before", "must not be negative")
	}
	if o.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.AuthMethod == "" {
		o.AuthMethod = AuthBasic
	}
	if o.RefreshBefore == 0 {
		o.RefreshBefore = DefaultRefreshBefore
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	return o
}

// readSecret reads the client secret from the file or variable o names.
// Its errors name the file or the variable, never the value.
func (o Options) readSecret(ccPath string) (string, error) {
	if o.SecretFile != "" {
		b, err := os.ReadFile(o.SecretFile)
		if err != nil {
			// *PathError names the path and the cause, nothing read.
			return "", &field.Error{Path: ccPath + ".client_secret_file", Err: fmt.Errorf("%w: %w", ErrSecretUnavailable, err)}
		}
		s := strings.TrimSuffix(string(b), "\n")
		s = strings.TrimSuffix(s, "\r")
		if s == "" {
			return "", &field.Error{Path: ccPath + ".client_secret_file", Err: fmt.Errorf("%w: %s is empty", ErrSecretUnavailable, o.SecretFile)}
		}
		return s, nil
	}
	s := o.Getenv(o.SecretEnv)
	if s == "" {
		return "", &field.Error{Path: ccPath + ".client_secret_env", Err: fmt.Errorf("%w: environment variable %s is unset or empty", ErrSecretUnavailable, o.SecretEnv)}
	}
	return s, nil
}
