// Package interop holds authgate's interoperability tests against a real
// OpenID provider: oidc-provider from npm (pinned in provider/package.json
// and provider/package-lock.json), started by the tests from
// provider/server.mjs on a free loopback port.
//
// The tests are behind the "interop" build tag, so `go test ./...` never runs
// them. They need Node.js (20 or later) and npm. Run them with
//
//	.ci/interop
//
// which runs `npm ci` in internal/interop/provider and then
//
//	go test -tags interop -count=1 -v ./internal/interop/
//
// Run directly, the test itself runs `npm ci` when provider/node_modules is
// absent (that needs the npm registry once). Cases:
//
//   - TestInterop/verify: the gateway discovers the provider (discovery
//     document, JWKS) and becomes ready; a client-credentials token from the
//     provider (client_secret_basic) is accepted on a required route and the
//     upstream gets the verified identity headers.
//   - TestInterop/credentials: a route whose upstream.credentials is a
//     client_credentials entry pointing at the provider's token endpoint
//     (client_secret_post, secret from a file): the upstream receives
//     Authorization: Bearer <a provider token> whose kid is in the provider's
//     JWKS and which verifies through the gateway's own route.
//   - TestInterop/rotation: the provider rotates its signing key (old and new
//     published) and then retires the old one while a bounded loop of
//     requests runs; not one request fails.
//   - TestInterop/exchange-provider: the provider's own token-exchange grant
//     (registerGrantType, provider/server.mjs), called directly: the
//     exchanged token verifies through the gateway for its new audience; a
//     tampered subject token gets invalid_grant, a refused audience
//     invalid_target.
//   - TestInterop/exchange: RFC 8693 token exchange through a token_exchange
//     credential: the upstream gets the exchanged token for its audience,
//     cached per client token, and a refused audience is a 403.
//
// oidc-provider 9 declares no engines field; at run time it warns
// "Unsupported runtime. Use Node.js v22.x LTS" on Node 20. The warning is
// harmless here and goes to the test's captured stderr.
//
// The provider's admin API (provider/server.mjs) is GET /admin/state,
// POST /admin/rotate and POST /admin/retire.
package interop
