// Package config loads, validates and describes authgate's configuration
// (docs/reference.md §2): a strict YAML file with ${ENV} expansion and AUTHGATE_*
// overrides, or the environment-only sidecar mode.
package config

import "time"

// Config is the whole decoded configuration, defaults filled in. It is plain
// data: the gateway compiles it into its runtime once per load.
type Config struct {
	Server      Server       `yaml:"server"`
	Log         Log          `yaml:"log"`
	Issuers     []Issuer     `yaml:"issuers"`
	Defaults    Defaults     `yaml:"defaults"`
	CORS        *CORS        `yaml:"cors"`
	Credentials []Credential `yaml:"credentials"`
	VerifyCache VerifyCache  `yaml:"verify_cache"`
	Routes      []Route      `yaml:"routes"`

	// Source names where the configuration came from (a file path, or
	// "environment"); it prefixes error messages.
	Source string `yaml:"-"`
	// Warnings are findings that do not stop the gateway (e.g. a route shadowed
	// by an earlier one), each prefixed like an error ("file:line: path: ...").
	Warnings []string `yaml:"-"`

	// loc remembers where each field came from, so that Locate can place
	// errors found after Load (by gateway.Build) as Load places its own.
	loc *locator
}

// Server configures the listeners.
type Server struct {
	Listen            string        `yaml:"listen"`       // default ":8080"
	AdminListen       *string       `yaml:"admin_listen"` // default ":9090"; "" disables
	Realm             string        `yaml:"realm"`        // default "authgate"
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	TLS               TLS           `yaml:"tls"`
	// Pprof mounts net/http/pprof under /debug/pprof/ on the admin
	// listener (never on the gateway's own). Default false: profiles
	// reveal internals and cost CPU, so turn it on only to investigate.
	Pprof bool `yaml:"pprof"`
}

// AdminAddr is the admin listener address; "" means disabled.
func (s Server) AdminAddr() string {
	if s.AdminListen == nil {
		return ":9090"
	}
	return *s.AdminListen
}

// TLS enables HTTPS on the main listener when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default text
	Access *bool  `yaml:"access"` // default true
}

// AccessEnabled reports whether one access line per request is written.
func (l Log) AccessEnabled() bool { return l.Access == nil || *l.Access }

// VerifyCache configures the verified-token cache (verify.Cache), one per
// runtime, shared by every route: a token seen again skips signature
// verification. verify.CacheOptions says what each field means.
type VerifyCache struct {
	Size   int           `yaml:"size"`    // default 10000; 0 turns the cache off
	MaxTTL time.Duration `yaml:"max_ttl"` // default 5m
}

// Issuer is one trusted token issuer.
type Issuer struct {
	Name           string        `yaml:"name"`
	Issuer         string        `yaml:"issuer"`
	JWKSURL        string        `yaml:"jwks_url"`
	Audiences      []string      `yaml:"audiences"`
	Algorithms     []string      `yaml:"algorithms"`
	ClockSkew      time.Duration `yaml:"clock_skew"`
	RequiredClaims []string      `yaml:"required_claims"`
	TokenTypes     []string      `yaml:"token_types"`
	ScopeClaims    []string      `yaml:"scope_claims"`
	JWKS           JWKS          `yaml:"jwks"`
}

// JWKS configures how an issuer's key set is fetched and cached.
type JWKS struct {
	RefreshInterval    time.Duration `yaml:"refresh_interval"`     // default 15m
	MinRefreshInterval time.Duration `yaml:"min_refresh_interval"` // default 30s
	MaxStale           time.Duration `yaml:"max_stale"`            // default 24h
	Timeout            time.Duration `yaml:"timeout"`              // default 5s
}

// Defaults are merged field by field into every route (docs/reference.md §2.1): a
// route field the file leaves out (or sets to null) takes the default's
// value; one it sets, even to an empty list or mapping, keeps its own. Load
// merges them before the built-in defaults apply, so the Routes of a loaded
// Config already hold the merged result. auth.mode, auth.issuers,
// auth.audiences, auth.scopes, auth.any_scopes, auth.claims,
// forward.headers, forward.claims_header and forward.authorization are
// merged; a route whose mode is none inherits no auth rules.
type Defaults struct {
	Auth    Auth    `yaml:"auth"`
	Forward Forward `yaml:"forward"`
}

// CORS configures cross-origin handling (docs/reference.md §3.7).
type CORS struct {
	AllowedOrigins   []string      `yaml:"allowed_origins"`
	AllowedMethods   []string      `yaml:"allowed_methods"`
	AllowedHeaders   []string      `yaml:"allowed_headers"`
	ExposedHeaders   []string      `yaml:"exposed_headers"`
	AllowCredentials bool          `yaml:"allow_credentials"`
	MaxAge           time.Duration `yaml:"max_age"`
}

// Credential is a token the gateway obtains for itself (docs/reference.md §3.8):
// exactly one of ClientCredentials or TokenExchange.
type Credential struct {
	Name              string             `yaml:"name"`
	ClientCredentials *ClientCredentials `yaml:"client_credentials"`
	TokenExchange     *TokenExchange     `yaml:"token_exchange"`
}

// ClientCredentials configures an OAuth 2.0 client-credentials grant
// (RFC 6749 §4.4); credentials.Options says what each field means.
type ClientCredentials struct {
	TokenURL         string        `yaml:"token_url"`
	ClientID         string        `yaml:"client_id"`
	ClientSecretFile string        `yaml:"client_secret_file"`
	ClientSecretEnv  string        `yaml:"client_secret_env"`
	Scopes           []string      `yaml:"scopes"`
	AuthMethod       string        `yaml:"auth_method"` // client_secret_basic | client_secret_post; default client_secret_basic
	Audience         string        `yaml:"audience"`
	Resource         []string      `yaml:"resource"`       // RFC 8707, one parameter per entry
	RefreshBefore    time.Duration `yaml:"refresh_before"` // default 60s
}

// TokenExchange configures an RFC 8693 token exchange per client token;
// credentials.ExchangeOptions says what each field means.
type TokenExchange struct {
	TokenURL         string   `yaml:"token_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	ClientSecretEnv  string   `yaml:"client_secret_env"`
	AuthMethod       string   `yaml:"auth_method"` // client_secret_basic | client_secret_post; default client_secret_basic
	Audience         string   `yaml:"audience"`
	Resource         []string `yaml:"resource"` // RFC 8707, one parameter per entry
	Scopes           []string `yaml:"scopes"`
	CacheSize        int      `yaml:"cache_size"` // default 10000
}

// Route is one routing rule; routes are tried in order.
type Route struct {
	Name     string   `yaml:"name"`
	Match    Match    `yaml:"match"`
	Upstream Upstream `yaml:"upstream"`
	Auth     Auth     `yaml:"auth"`
	Forward  Forward  `yaml:"forward"`
}

// Match selects requests for a route.
type Match struct {
	PathPrefix string   `yaml:"path_prefix"`
	Path       string   `yaml:"path"`
	Host       string   `yaml:"host"`
	Methods    []string `yaml:"methods"`
}

// Upstream is where a route forwards.
type Upstream struct {
	URL          string        `yaml:"url"`
	StripPrefix  bool          `yaml:"strip_prefix"`
	PreserveHost bool          `yaml:"preserve_host"`
	Timeout      time.Duration `yaml:"timeout"` // default 30s
	Credentials  string        `yaml:"credentials"`
}

// Auth is a route's authentication and authorization rules.
type Auth struct {
	Mode      string     `yaml:"mode"` // required | optional | none; default required
	Issuers   []string   `yaml:"issuers"`
	Audiences []string   `yaml:"audiences"`
	Scopes    []string   `yaml:"scopes"`
	AnyScopes []string   `yaml:"any_scopes"`
	Claims    ClaimRules `yaml:"claims"`
}

// Forward says what the gateway adds to the upstream request.
type Forward struct {
	Headers       map[string]string `yaml:"headers"`
	ClaimsHeader  string            `yaml:"claims_header"`
	Authorization string            `yaml:"authorization"` // keep | strip; default keep
}
