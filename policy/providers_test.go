package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/reason"
)

// Access token payloads shaped like each provider's, after their public
// documentation (claim names, types and nesting; the values are made up).

// Kinde: scp is an array of OIDC scopes, permissions an array, org_code a
// string, roles an array of objects; is_paid is a custom claim a workflow
// adds (kinde.accessToken.setCustomClaim).
const kindeToken = `{
  "aud": ["https://api.example.com"], "azp": "6f6c6b0e9b5c4b0e", "exp": 1900000000, "iat": 1700000000,
  "iss": "https://example.kinde.com", "jti": "2a5f7c1e-1f4b-4a43-9d5f-0c7e6b0e2f11",
  "org_code": "org_7a1bc2de", "permissions": ["read:orders", "create:orders"],
  "roles": [{"id": "0190a1b2", "key": "admin", "name": "Admin"}],
  "scp": ["openid", "profile", "email", "offline"], "sub": "kp_9d1f0e2c3b4a", "is_paid": true
}`

// Auth0: scope is a space-separated string, permissions an array (RBAC
// with "Add Permissions in the Access Token"), roles a namespaced custom
// claim set by an Action; aud may include the userinfo endpoint.
const auth0Token = `{
  "iss": "https://example.eu.auth0.com/", "sub": "auth0|6553da60a54af58e29493993",
  "aud": ["https://api.example.com", "https://example.eu.auth0.com/userinfo"],
  "iat": 1700000000, "exp": 1900000000, "azp": "K1AUPhZq8mRi0Q0pjhkfu1D7y6KjDQja",
  "scope": "openid profile read:orders", "permissions": ["read:orders", "delete:orders"],
  "https://example.com/roles": ["support"], "https://example.com/tenant_id": 4711
}`

// Keycloak: realm roles under realm_access, client roles under
// resource_access.<client>, scope a space-separated string.
const keycloakToken = `{
  "exp": 1900000000, "iat": 1700000000, "jti": "d58f5dc8-fd8f-462b-8a19-716f8f83985b",
  "iss": "https://sso.example.com/realms/shop", "aud": ["orders-api", "account"],
  "sub": "36fa0f91-f94d-4a0c-afed-6b7d952e47da", "typ": "Bearer", "azp": "web-shop",
  "realm_access": {"roles": ["offline_access", "default-roles-shop", "uma_authorization", "orders-admin"]},
  "resource_access": {
    "orders-api": {"roles": ["reader"]},
    "account": {"roles": ["manage-account", "view-profile"]}
  },
  "scope": "openid email profile", "email_verified": true, "preferred_username": "alice"
}`

// Entra ID (v2.0 access token): scp is a space-separated string of
// delegated permissions, roles an array of app roles, tid the tenant.
const entraToken = `{
  "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
  "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
  "iat": 1700000000, "nbf": 1700000000, "exp": 1900000000,
  "azp": "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", "azpacr": "1",
  "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "scp": "Orders.Read Orders.Write", "roles": ["Orders.Admin"], "ver": "2.0"
}`

// Okta (custom authorization server): scp is an array, groups an array when
// a groups claim is configured, ver a number.
const oktaToken = `{
  "ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
  "iss": "https://example.okta.com/oauth2/default", "aud": "api://default",
  "iat": 1700000000, "exp": 1900000000, "cid": "0oa1b2c3d4e5f6g7h8i9",
  "uid": "00u1a2b3c4d5e6f7g8h9", "scp": ["openid", "orders:read"],
  "sub": "alice@example.com", "groups": ["Everyone", "Order Admins"]
}`

// grantedScopes is the union of the scope claims, read as internal/verify
// reads them: a space-separated string or an array of strings.
func grantedScopes(claims map[string]any, names []string) []string {
	var out []string
	for _, n := range names {
		switch v := claims[n].(type) {
		case string:
			out = append(out, strings.Fields(v)...)
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func TestProviderTokens(t *testing.T) {
	std := []string{"scope", "scp"}
	tests := []struct {
		name        string
		token       string
		scopeClaims []string // the issuer's scope_claims
		rules       Rules
		want        error // nil, reason.ErrInsufficientScope or reason.ErrClaimMismatch
	}{
		// Kinde
		{name: "kinde permissions as scopes", token: kindeToken, scopeClaims: []string{"permissions"},
			rules: Rules{Scopes: []string{"read:orders", "create:orders"}}},
		{name: "kinde permission missing", token: kindeToken, scopeClaims: []string{"permissions"},
			rules: Rules{Scopes: []string{"delete:orders"}}, want: reason.ErrInsufficientScope},
		{name: "kinde OIDC scopes are not permissions", token: kindeToken, scopeClaims: []string{"permissions"},
			rules: Rules{AnyScopes: []string{"openid"}}, want: reason.ErrInsufficientScope},
		{name: "kinde scp array by default", token: kindeToken, scopeClaims: std, rules: Rules{Scopes: []string{"openid", "offline"}}},
		{name: "kinde permissions array as a claim", token: kindeToken, scopeClaims: std,
			rules: Rules{Claims: map[string]any{"permissions": []any{"read:orders", "admin"}}}},
		{name: "kinde org_code", token: kindeToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"org_code": "org_7a1bc2de"}}},
		{name: "kinde other org", token: kindeToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"org_code": "org_other"}}, want: reason.ErrClaimMismatch},
		{name: "kinde workflow boolean", token: kindeToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"is_paid": true}}},
		{name: "kinde workflow boolean is not a string", token: kindeToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"is_paid": "true"}}, want: reason.ErrClaimMismatch},
		{name: "kinde roles are objects: name does not match", token: kindeToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"roles": "admin"}}, want: reason.ErrClaimMismatch},
		{name: "kinde first role key by index pointer", token: kindeToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"/roles/0/key": "admin"}}},

		// Auth0
		{name: "auth0 space-separated scope", token: auth0Token, scopeClaims: std, rules: Rules{Scopes: []string{"read:orders"}}},
		{name: "auth0 scope not granted", token: auth0Token, scopeClaims: std, rules: Rules{Scopes: []string{"delete:orders"}}, want: reason.ErrInsufficientScope},
		{name: "auth0 permissions as scope claim", token: auth0Token, scopeClaims: []string{"scope", "permissions"}, rules: Rules{Scopes: []string{"delete:orders"}}},
		{name: "auth0 namespaced claim by name", token: auth0Token, scopeClaims: std,
			rules: Rules{Claims: map[string]any{"https://example.com/roles": []any{"admin", "support"}}}},
		{name: "auth0 namespaced claim by escaped pointer", token: auth0Token, scopeClaims: std,
			rules: Rules{Claims: map[string]any{"/https:~1~1example.com~1roles": "support"}}},
		{name: "auth0 namespaced pointer without escapes is another claim", token: auth0Token, scopeClaims: std,
			rules: Rules{Claims: map[string]any{"/https://example.com/roles": "support"}}, want: reason.ErrClaimMismatch},
		{name: "auth0 role missing", token: auth0Token, scopeClaims: std,
			rules: Rules{Claims: map[string]any{"https://example.com/roles": "admin"}}, want: reason.ErrClaimMismatch},
		{name: "auth0 numeric tenant id", token: auth0Token, scopeClaims: std, rules: Rules{Claims: map[string]any{"https://example.com/tenant_id": 4711}}},
		{name: "auth0 numeric tenant id as a string", token: auth0Token, scopeClaims: std,
			rules: Rules{Claims: map[string]any{"https://example.com/tenant_id": "4711"}}, want: reason.ErrClaimMismatch},
		{name: "auth0 scope and role both required", token: auth0Token, scopeClaims: std,
			rules: Rules{Scopes: []string{"read:orders"}, Claims: map[string]any{"https://example.com/roles": "support"}}},

		// Keycloak
		{name: "keycloak realm role", token: keycloakToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"/realm_access/roles": "orders-admin"}}},
		{name: "keycloak realm role missing", token: keycloakToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"/realm_access/roles": []any{"superuser"}}}, want: reason.ErrClaimMismatch},
		{name: "keycloak client role", token: keycloakToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"/resource_access/orders-api/roles": []any{"reader", "writer"}}}},
		{name: "keycloak role of another client", token: keycloakToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"/resource_access/billing-api/roles": "reader"}}, want: reason.ErrClaimMismatch},
		{name: "keycloak both role kinds", token: keycloakToken, scopeClaims: std, rules: Rules{Claims: map[string]any{
			"/realm_access/roles": "orders-admin", "/resource_access/orders-api/roles": "reader", "email_verified": true}}},
		{name: "keycloak string scope", token: keycloakToken, scopeClaims: std, rules: Rules{Scopes: []string{"email"}}},

		// Entra ID
		{name: "entra delegated scp string", token: entraToken, scopeClaims: std, rules: Rules{Scopes: []string{"Orders.Read"}}},
		{name: "entra scopes are case-sensitive", token: entraToken, scopeClaims: std, rules: Rules{Scopes: []string{"orders.read"}}, want: reason.ErrInsufficientScope},
		{name: "entra app role via scope_claims", token: entraToken, scopeClaims: []string{"scp", "roles"}, rules: Rules{AnyScopes: []string{"Orders.Admin", "Orders.Read.All"}}},
		{name: "entra app role as a claim", token: entraToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"roles": "Orders.Admin"}}},
		{name: "entra roles not in the default scope claims", token: entraToken, scopeClaims: std, rules: Rules{AnyScopes: []string{"Orders.Admin"}}, want: reason.ErrInsufficientScope},
		{name: "entra tenant", token: entraToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}},
		{name: "entra other tenant", token: entraToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"tid": "00000000-0000-0000-0000-000000000000"}}, want: reason.ErrClaimMismatch},

		// Okta
		{name: "okta scp array", token: oktaToken, scopeClaims: std, rules: Rules{Scopes: []string{"orders:read"}}},
		{name: "okta scope missing", token: oktaToken, scopeClaims: std, rules: Rules{Scopes: []string{"orders:write"}}, want: reason.ErrInsufficientScope},
		{name: "okta group with a space", token: oktaToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"groups": "Order Admins"}}},
		{name: "okta ver number 1.0", token: oktaToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"ver": 1.0}}},
		{name: "okta ver is not the string 1", token: oktaToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"ver": "1"}}, want: reason.ErrClaimMismatch},
		{name: "okta missing claim", token: oktaToken, scopeClaims: std, rules: Rules{Claims: map[string]any{"org_id": "acme"}}, want: reason.ErrClaimMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := payload(t, tt.token)
			p, err := New(tt.rules)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			err = p.Check(grantedScopes(claims, tt.scopeClaims), claims)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("got %q, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("got %v, want an error wrapping %q", err, tt.want)
			}
			if err != nil {
				// Only configured values may appear, never the token's.
				for _, secret := range []string{"kp_9d1f0e2c3b4a", "auth0|", "36fa0f91", "690222be", "00u1a2b3", "org_7a1bc2de"} {
					if strings.Contains(err.Error(), secret) && !strings.Contains(jsonOf(tt.rules.Claims), secret) {
						t.Errorf("got %q, want no claim values from the token", err)
					}
				}
			}
		})
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestBigIntegerClaims: numbers compare exactly, never through float64,
// where 2^53+1 and 2^53 are the same number.
func TestBigIntegerClaims(t *testing.T) {
	claims := payload(t, `{"account": 9007199254740993, "ids": [18446744073709551616, 2]}`)
	tests := []struct {
		name string
		key  string
		want any
		ok   bool
	}{
		{name: "exact int64", key: "account", want: int64(9007199254740993), ok: true},
		{name: "float64 neighbour", key: "account", want: float64(9007199254740992)},
		{name: "int64 neighbour", key: "account", want: int64(9007199254740992)},
		{name: "beyond uint64, exact", key: "ids", want: json.Number("18446744073709551616"), ok: true},
		{name: "beyond uint64, as exponent", key: "ids", want: json.Number("1.8446744073709551616e19"), ok: true},
		{name: "beyond uint64, off by one", key: "ids", want: json.Number("18446744073709551617")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Rules{Claims: map[string]any{tt.key: tt.want}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := p.Check(nil, claims); (err == nil) != tt.ok {
				t.Errorf("got %v, want ok %v", err, tt.ok)
			}
		})
	}
}
