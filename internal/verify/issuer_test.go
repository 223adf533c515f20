package verify

import (
	"context"
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
		{name: "no name", mod: func(o *IssuerOptions) { o.Name = "" }, wantErr: "name: required"},
		{name: "no issuer", mod: func(o *IssuerOptions) { o.Issuer = "" }, wantErr: "issuer: required"},
		{name: "no keys", mod: func(o *IssuerOptions) { o.Keys = nil }, wantErr: "keys:"},
		{name: "no audiences", mod: func(o *IssuerOptions) { o.Audiences = nil }, wantErr: "audiences: must not be empty"},
		{name: "empty audience", mod: func(o *IssuerOptions) { o.Audiences = []string{"api", " "} }, wantErr: "audiences[1]"},
		{name: "negative skew", mod: func(o *IssuerOptions) { o.ClockSkew = -time.Second }, wantErr: "clock_skew"},
		{name: "empty algorithm list", mod: func(o *IssuerOptions) { o.Algorithms = []string{} }, wantErr: "algorithms: must not be empty"},
		{name: "none", mod: func(o *IssuerOptions) { o.Algorithms = []string{"RS256", "none"} }, wantErr: `algorithms[1]: "none"`},
		{name: "NONE", mod: func(o *IssuerOptions) { o.Algorithms = []string{"NONE"} }, wantErr: `algorithms[0]: "NONE"`},
		{name: "HS256", mod: func(o *IssuerOptions) { o.Algorithms = []string{"HS256"} }, wantErr: "HMAC"},
		{name: "hs512", mod: func(o *IssuerOptions) { o.Algorithms = []string{"hs512"} }, wantErr: "HMAC"},
		{name: "unknown", mod: func(o *IssuerOptions) { o.Algorithms = []string{"RS1"} }, wantErr: "unsupported"},
		{name: "ES256K", mod: func(o *IssuerOptions) { o.Algorithms = []string{"ES256K"} }, wantErr: "unsupported"},
		{name: "wrong case", mod: func(o *IssuerOptions) { o.Algorithms = []string{"rs256"} }, wantErr: "unsupported"},
		{name: "empty required claim", mod: func(o *IssuerOptions) { o.RequiredClaims = []string{""} }, wantErr: "required_claims[0]"},
		{name: "empty token type", mod: func(o *IssuerOptions) { o.TokenTypes = []string{"at+jwt", ""} }, wantErr: "token_types[1]"},
		{name: "empty scope claim", mod: func(o *IssuerOptions) { o.ScopeClaims = []string{""} }, wantErr: "scope_claims[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.mod(&o)
			is, err := NewIssuer(o)
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

	// Explicit empty lists are kept: nothing required, no scope claims.
	is = mustIssuer(t, IssuerOptions{Name: "m", Issuer: issMain, Audiences: []string{"api"}, Keys: cache,
		RequiredClaims: []string{}, ScopeClaims: []string{}})
	if o := is.Options(); len(o.RequiredClaims) != 0 || len(o.ScopeClaims) != 0 {
		t.Errorf("got required %q scope claims %q, want both empty", o.RequiredClaims, o.ScopeClaims)
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
		{name: "empty route audience", issuers: []*Issuer{a}, audiences: []string{""}, wantErr: "audiences[0]"},
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
