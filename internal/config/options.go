package config

import (
	"errors"

	"github.com/authgate/authgate/internal/credentials"
	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/internal/verify"
	"github.com/authgate/authgate/jwks"
	"github.com/authgate/authgate/policy"
	"github.com/authgate/authgate/proxy"
)

// The configuration in the terms of the constructors that enforce its rules.
// Validation hands these to the constructors' own checks, and gateway.Build
// to the constructors, so that what Load accepts is what Build is given.
// Field paths in the constructors' errors are those of the configuration
// relative to the block mapped (an issuer, a route, the cors block), except
// for ProxyOptions' realm, which Locate renames.

// KeySetOptions is the issuer's key set source as jwks.New takes it; the
// caller adds what is not configuration (logger, clock, metrics hook).
func (is Issuer) KeySetOptions() jwks.Options {
	return jwks.Options{
		Issuer:             is.Issuer,
		JWKSURL:            is.JWKSURL,
		RefreshInterval:    is.JWKS.RefreshInterval,
		MinRefreshInterval: is.JWKS.MinRefreshInterval,
		MaxStale:           is.JWKS.MaxStale,
		Timeout:            is.JWKS.Timeout,
	}
}

// VerifierOptions is the issuer as verify.NewIssuer takes it; the caller
// adds its key source.
func (is Issuer) VerifierOptions() verify.IssuerOptions {
	return verify.IssuerOptions{
		Name:           is.Name,
		Issuer:         is.Issuer,
		Audiences:      is.Audiences,
		Algorithms:     is.Algorithms,
		ClockSkew:      is.ClockSkew,
		RequiredClaims: is.RequiredClaims,
		TokenTypes:     is.TokenTypes,
		ScopeClaims:    is.ScopeClaims,
	}
}

// CacheOptions is the verify_cache block as verify.NewCache takes it; the
// caller adds the metrics hooks. Its errors' paths are relative to the
// block (size, max_ttl).
func (vc VerifyCache) CacheOptions() verify.CacheOptions {
	return verify.CacheOptions{Size: vc.Size, MaxTTL: vc.MaxTTL}
}

// Options is the credential as credentials.New takes it; the caller adds
// what is not configuration (logger, clock, metrics hooks). It must be
// called only on a client_credentials credential. Its errors' paths are
// relative to the credential (client_credentials.token_url).
func (cr Credential) Options() credentials.Options {
	cc := cr.ClientCredentials
	return credentials.Options{
		Name:          cr.Name,
		TokenURL:      cc.TokenURL,
		ClientID:      cc.ClientID,
		SecretFile:    cc.ClientSecretFile,
		SecretEnv:     cc.ClientSecretEnv,
		AuthMethod:    cc.AuthMethod,
		Scopes:        cc.Scopes,
		Audience:      cc.Audience,
		Resource:      cc.Resource,
		RefreshBefore: cc.RefreshBefore,
	}
}

// ExchangeOptions is the token_exchange credential as
// credentials.NewTokenExchange takes it; the caller adds what is not
// configuration (logger, clock, metrics hook). It must be called only on a
// token_exchange credential. Its errors' paths are relative to the
// credential (token_exchange.token_url).
func (cr Credential) ExchangeOptions() credentials.ExchangeOptions {
	tx := cr.TokenExchange
	return credentials.ExchangeOptions{
		Options: credentials.Options{
			Name:       cr.Name,
			TokenURL:   tx.TokenURL,
			ClientID:   tx.ClientID,
			SecretFile: tx.ClientSecretFile,
			SecretEnv:  tx.ClientSecretEnv,
			AuthMethod: tx.AuthMethod,
			Scopes:     tx.Scopes,
			Audience:   tx.Audience,
			Resource:   tx.Resource,
		},
		CacheSize: tx.CacheSize,
	}
}

// Rules is the route's policy as policy.New takes it.
func (a Auth) Rules() policy.Rules {
	return policy.Rules{Scopes: a.Scopes, AnyScopes: a.AnyScopes, Claims: a.Claims}
}

// ProxyRoute is the route as proxy.New takes it, without Auth and Scopes,
// which come from the route's compiled verifier and policy. Its error names
// auth.mode or upstream.url (policy.ParseMode, proxy.ParseUpstream); the
// route then holds mode required or no upstream for them.
func (r Route) ProxyRoute() (proxy.Route, error) {
	mode, modeErr := policy.ParseMode(r.Auth.Mode)
	up, upErr := proxy.ParseUpstream(r.Upstream.URL)
	pr := proxy.Route{
		Name:               r.Name,
		Host:               r.Match.Host,
		Methods:            r.Match.Methods,
		Path:               r.Match.Path,
		PathPrefix:         r.Match.PathPrefix,
		Upstream:           up,
		StripPrefix:        r.Upstream.StripPrefix,
		PreserveHost:       r.Upstream.PreserveHost,
		Timeout:            r.Upstream.Timeout,
		Mode:               mode,
		Headers:            r.Forward.Headers,
		ClaimsHeader:       r.Forward.ClaimsHeader,
		StripAuthorization: r.Forward.Authorization == authStrip,
	}
	var errs []error
	if modeErr != nil {
		errs = append(errs, &field.Error{Path: "auth.mode", Err: modeErr})
	}
	if upErr != nil {
		errs = append(errs, &field.Error{Path: "upstream.url", Err: upErr})
	}
	return pr, errors.Join(errs...)
}

// ProxyOptions is the configuration as proxy.New takes it, without the
// routes (see ProxyRoute) and what is not configuration (logger, transport,
// hooks). Its realm is server.realm.
func (c *Config) ProxyOptions() proxy.Options {
	return proxy.Options{
		Realm:     c.Server.Realm,
		AccessLog: c.Log.AccessEnabled(),
		// Nil stays nil. The two structs have the same fields, so a field
		// added to one without the other fails to compile here.
		CORS: (*proxy.CORS)(c.CORS),
	}
}
