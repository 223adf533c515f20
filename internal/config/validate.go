package config

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/field"
)

// check normalises and validates c, sets c.Warnings and returns every error,
// unsorted.
//
// The rules of what a value may be are the constructors': check hands each
// block to the validation of the constructor that will build it (see
// options.go) and places what that reports at the field's line. What check
// enforces itself is what no constructor sees: the listeners and logs,
// which no constructor takes; names that others refer to being unique, and
// the references to them; the defaults block, reported once where it is
// written; rules that depend on what the file wrote rather than on the
// value (an auth rule on a public route, a field set to the zero value its
// constructor reads as unset).
func (c *Config) check() []*FieldError {
	normalize(c)
	p := &problems{loc: c.loc}
	validateServer(c, p)
	validateIssuers(c, p)
	validateCredentials(c, p)
	p.addErr("verify_cache", c.VerifyCache.CacheOptions().Validate()) // verify.NewCache's rule
	validateRoutes(c, p)
	shadowWarnings(c.Routes, p)
	c.Warnings = renderWarnings(p.warnings)
	return p.errs
}

// normalize rewrites fields into the one form the rest of authgate expects.
func normalize(c *Config) {
	dropEmptyCORS(c)
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	for i := range c.Routes {
		m := &c.Routes[i].Match
		m.Host = strings.ToLower(m.Host)
		// "/api/" and "/api" match the same requests (segment boundary);
		// keep one spelling so that shadow checks and check's output
		// compare and show them alike.
		if len(m.PathPrefix) > 1 {
			m.PathPrefix = strings.TrimRight(m.PathPrefix, "/")
			if m.PathPrefix == "" {
				m.PathPrefix = "/"
			}
		}
	}
}

// validateServer checks the listeners and logs, which gateway.Serve and the
// logger take as they are. The realm's rule is proxy.New's.
func validateServer(c *Config, p *problems) {
	s := c.Server
	checkListen(p, "server.listen", s.Listen)
	if s.AdminListen != nil && *s.AdminListen != "" {
		checkListen(p, "server.admin_listen", *s.AdminListen)
		if *s.AdminListen == s.Listen && !strings.HasSuffix(s.Listen, ":0") {
			p.add("server.admin_listen", "must differ from server.listen")
		}
	}
	if s.Realm == "" && p.loc.isSet("server.realm") {
		// proxy.New reads "" as its default realm.
		p.add("server.realm", "must not be empty")
	}
	positive(p, "server.read_header_timeout", s.ReadHeaderTimeout)
	positive(p, "server.idle_timeout", s.IdleTimeout)
	positive(p, "server.shutdown_timeout", s.ShutdownTimeout)
	if s.MaxHeaderBytes <= 0 {
		p.add("server.max_header_bytes", "must be positive")
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		p.add("server.tls", "set both cert_file and key_file, or neither")
	}
	if s.Pprof && s.AdminAddr() == "" {
		// Not an error: the admin listener, the only place pprof is
		// served, is off, so the setting does nothing.
		p.warn("server.pprof", "has no effect: the admin listener is disabled (server.admin_listen is empty)")
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.add("log.format", "must be text or json")
	}
}

func checkListen(p *problems, path, addr string) {
	if addr == "" {
		p.add(path, "must not be empty")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
		p.add(path, "must be HOST:PORT or :PORT with a numeric port")
	}
}

// validateIssuers checks that issuer names are unique, which no constructor
// sees, and hands each issuer to the key cache's and the verifier's
// validation (jwks.Options.Validate, verify.IssuerOptions.Validate).
func validateIssuers(c *Config, p *problems) {
	names := map[string]int{}
	for i, is := range c.Issuers {
		ip := field.Index("issuers", i)
		checkUnique(p, ip+".name", is.Name, "issuer", names, i)
		j := is.JWKS
		for _, f := range []struct {
			name string
			d    time.Duration
		}{
			{"refresh_interval", j.RefreshInterval}, {"min_refresh_interval", j.MinRefreshInterval},
			{"max_stale", j.MaxStale}, {"timeout", j.Timeout},
		} {
			if path := ip + ".jwks." + f.name; zeroSet(p.loc, path, f.d) {
				p.add(path, "must be positive")
			}
		}
		p.addErr(ip, is.KeySetOptions().Validate())
		p.addErr(ip, is.VerifierOptions().Validate())
	}
}

// validateCredentials checks that credential names are unique and that
// each is of one kind, which no constructor sees, and hands each
// client_credentials block to credentials.Options.Validate. It does not
// read secrets: Build does, and reports a missing file or variable.
func validateCredentials(c *Config, p *problems) {
	names := map[string]int{}
	for i, cr := range c.Credentials {
		cp := field.Index("credentials", i)
		switch cr.Name {
		case "":
			p.add(cp+".name", "must not be empty")
		case "none":
			p.add(cp+".name", `"none" is reserved: metrics use it for "no credential"`)
		default:
			checkUnique(p, cp+".name", cr.Name, "credential", names, i)
		}
		switch {
		case cr.ClientCredentials != nil && cr.TokenExchange != nil, cr.ClientCredentials == nil && cr.TokenExchange == nil:
			p.add(cp, "set exactly one of client_credentials or token_exchange")
		case cr.ClientCredentials != nil:
			if path := cp + ".client_credentials.refresh_before"; zeroSet(p.loc, path, cr.ClientCredentials.RefreshBefore) {
				// credentials.New reads 0 as its default.
				p.add(path, "must be positive")
			}
			p.addErr(cp, cr.Options().Validate())
		case cr.TokenExchange != nil:
			if path := cp + ".token_exchange.cache_size"; cr.TokenExchange.CacheSize == 0 && p.loc.isSet(path) {
				// credentials.NewTokenExchange reads 0 as its default.
				p.add(path, "must be positive")
			}
			p.addErr(cp, cr.ExchangeOptions().Validate())
		}
	}
}

// checkUnique reports a name that an earlier item of the same list (kind)
// has too: others refer to it by name. Empty and reserved names are left to
// the rules that refuse them.
func checkUnique(p *problems, path, name, kind string, seen map[string]int, i int) {
	if name == "" || name == "none" {
		return
	}
	if first, dup := seen[name]; dup {
		p.add(path, "duplicate %s name %s (also %ss[%d])", kind, field.Quote(name), kind, first)
		return
	}
	seen[name] = i
}

// zeroSet reports a duration the file or the environment sets to zero
// where the constructor reads zero as "not set" (a key set duration, which
// jwks.New replaces with its default) or as "no limit" (an upstream
// timeout). Such an explicit 0s means something the gateway does not
// offer, and is refused ("must be positive") rather than silently
// replaced. Only the configuration can tell an explicit zero from an
// absent field; a negative value is the constructor's to refuse.
func zeroSet(loc *locator, path string, d time.Duration) bool {
	return d == 0 && loc.isSet(path)
}

// positive checks a duration that no constructor takes (a listener's).
func positive(p *problems, path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "must be positive")
	}
}
