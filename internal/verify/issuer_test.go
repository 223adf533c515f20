package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/reason"
	"github.com/authgate/authgate/internal/testkit"
)

func TestNewIssuerValidation(t *testing.T) {
	cache := newCache(t, testkit.NewIssuer(t), testkit.NewClock(testNow))
	valid := func() IssuerOptions {
		return IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: cache}
	}
	tests := []struct {
		name    string
		mod     func(*IssuerOptions)
		wantErr string // substring; "" means valid
	}{
		{name: "valid", mod: func(*IssuerOptions) {}},
		{name: "explicit algorithms", mod: func(o *IssuerOptions) { o.Algorithms = []string{"ES256", "EdDSA"} }},
		{name: "no name", mod: func(o *IssuerOptions) { o.Name = "" }, wantErr: "name: must not be empty"},
		{name: "no issuer", mod: func(o *IssuerOptions) { o.Issuer = "" }, wantErr: "issuer: must not be empty"},
		{name: "no keys", mod: func(o *IssuerOptions) { o.Keys = nil }, wantErr: "keys:"},
		{name: "no audiences", mod: func(o *IssuerOptions) { o.Audiences = nil }, wantErr: "audiences: must not be empty: list the audiences this gateway accepts"},
		{name: "empty audience", mod: func(o *IssuerOptions) { o.Audiences = []string{"api", " "} }, wantErr: "audiences[1]: must not be empty"},
		{name: "negative skew", mod: func(o *IssuerOptions) { o.ClockSkew = -time.Second }, wantErr: "clock_skew: must not be negative"},
		{name: "empty algorithm list", mod: func(o *IssuerOptions) { o.Algorithms = []string{} }, wantErr: "algorithms: must not be empty (leave it out for the default set)"},
		{name: "none", mod: func(o *IssuerOptions) { o.Algorithms = []string{"RS256", "none"} }, wantErr: `algorithms[1]: algorithm "none" is never allowed: tokens must be signed`},
		{name: "NONE", mod: func(o *IssuerOptions) { o.Algorithms = []string{"NONE"} }, wantErr: `algorithms[0]: algorithm "NONE" is never allowed`},
		{name: "HS256", mod: func(o *IssuerOptions) { o.Algorithms = []string{"HS256"} }, wantErr: `symmetric algorithm "HS256" is not supported: keys come from a public key set`},
		{name: "hs512", mod: func(o *IssuerOptions) { o.Algorithms = []string{"hs512"} }, wantErr: `symmetric algorithm "hs512"`},
		{name: "unknown", mod: func(o *IssuerOptions) { o.Algorithms = []string{"RS1"} }, wantErr: `algorithms[0]: unknown algorithm "RS1" (allowed: RS256, RS384,`},
		{name: "ES256K", mod: func(o *IssuerOptions) { o.Algorithms = []string{"ES256K"} }, wantErr: "unknown algorithm"},
		{name: "wrong case", mod: func(o *IssuerOptions) { o.Algorithms = []string{"rs256"} }, wantErr: "unknown algorithm"},
		{name: "empty required claim", mod: func(o *IssuerOptions) { o.RequiredClaims = []string{""} }, wantErr: "required_claims[0]: must not be empty"},
		{name: "empty token type", mod: func(o *IssuerOptions) { o.TokenTypes = []string{"at+jwt", ""} }, wantErr: "token_types[1]: must not be empty"},
		{name: "empty scope claim", mod: func(o *IssuerOptions) { o.ScopeClaims = []string{""} }, wantErr: "scope_claims[0]: must not be empty"},
		{name: "no scope claims", mod: func(o *IssuerOptions) { o.ScopeClaims = []string{} }, wantErr: "scope_claims: must not be empty (leave it out for the default [scope, scp])"},
		{name: "reserved name", mod: func(o *IssuerOptions) { o.Name = "none" }, wantErr: `name: "none" is reserved: metrics use it for "no issuer"`},
		{name: "no required claims", mod: func(o *IssuerOptions) { o.RequiredClaims = []string{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.mod(&o)
			is, err := NewIssuer(o)
			if o.Keys != nil {
				if verr := o.Validate(); fmt.Sprint(verr) != fmt.Sprint(err) {
					t.Errorf("Validate: got %v, want NewIssuer's error %v", verr, err)
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %q, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got issuer %q, want an error", is.Name())
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %q, want it to contain %q", err.Error(), tt.wantErr)
			}
		})
	}
}

func TestIssuerOptionsDefaults(t *testing.T) {
	cache := newCache(t, testkit.NewIssuer(t), testkit.NewClock(testNow))
	in := IssuerOptions{Name: "main", Issuer: issMain, Audiences: []string{"api"}, Keys: cache}
	is := mustIssuer(t, in)
	if got := is.Name(); got != "main" {
		t.Errorf("got %q, want %q", got, "main")
	}
	o := is.Options()
	checks := []struct {
		name      string
		got, want []string
	}{
		{"algorithms", o.Algorithms, DefaultAlgorithms},
		{"required_claims", o.RequiredClaims, []string{"exp"}},
		{"scope_claims", o.ScopeClaims, []string{"scope", "scp"}},
		{"audiences", o.Audiences, []string{"api"}},
	}
	for _, c := range checks {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if o.Now == nil {
		t.Error("got nil Now, want time.Now")
	}

	// An explicit empty list is kept: nothing required. (An empty
	// ScopeClaims, which would grant no scope ever, is refused; see
	// TestNewIssuerValidation.)
	is = mustIssuer(t, IssuerOptions{Name: "m", Issuer: issMain, Audiences: []string{"api"}, Keys: cache,
		RequiredClaims: []string{}})
	if o := is.Options(); len(o.RequiredClaims) != 0 {
		t.Errorf("got required %q, want none", o.RequiredClaims)
	}

	// Neither the caller's slices nor Options' copies alias the issuer's.
	auds := []string{"api"}
	is = mustIssuer(t, IssuerOptions{Name: "m", Issuer: issMain, Audiences: auds, Keys: cache})
	auds[0] = "changed"
	is.Options().Audiences[0] = "changed"
	if got := is.Options().Audiences[0]; got != "api" {
		t.Errorf("got %q, want %q", got, "api")
	}
}

func TestNewVerifierValidation(t *testing.T) {
	cache := newCache(t, testkit.NewIssuer(t), testkit.NewClock(testNow))
	mk := func(name, iss string) *Issuer {
		return mustIssuer(t, IssuerOptions{Name: name, Issuer: iss, Audiences: []string{"api"}, Keys: cache})
	}
	a, b, sameIss := mk("a", issMain), mk("b", issES), mk("c", issMain)
	tests := []struct {
		name      string
		issuers   []*Issuer
		audiences []string
		wantErr   string
	}{
		{name: "one issuer", issuers: []*Issuer{a}},
		{name: "two issuers", issuers: []*Issuer{a, b}, audiences: []string{"x"}},
		{name: "same issuer twice", issuers: []*Issuer{a, a}},
		{name: "no issuers", wantErr: "at least one"},
		{name: "nil issuer", issuers: []*Issuer{a, nil}, wantErr: "issuers[1]: nil"},
		{name: "two issuers, one iss", issuers: []*Issuer{a, sameIss}, wantErr: "share the issuer URL"},
		{name: "empty route audience", issuers: []*Issuer{a}, audiences: []string{""}, wantErr: "audiences[0]: must not be empty"},
		{name: "shared iss named", issuers: []*Issuer{a, b, sameIss}, wantErr: `issuers[2]: "a" and "c" share the issuer URL "https://issuer.example", so a token's iss cannot pick one`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.issuers, tt.audiences)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %q, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestErrorWrapping(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, "RS256", f.k.rsa, map[string]any{"kid": "rsa1"}, claims(issMain, map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))
	_, err := f.all.Verify(context.Background(), tok)
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("got %T, want *Error", err)
	}
	if e.Issuer != "main" {
		t.Errorf("got %q, want %q", e.Issuer, "main")
	}
	if got, want := reason.Describe(err), reason.ErrExpired.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(err.Error(), "issuer main: ") {
		t.Errorf("got %q, want it to start with %q", err.Error(), "issuer main: ")
	}
}
