// Package attack is authgate's end-to-end attack suite. It builds the real
// binary once, starts it with one configuration that has every kind of route
// (public, required, optional, scope-guarded, host- and method-restricted,
// strip_prefix, WebSocket), three trusted issuers and an untrusted one, and
// puts a recording upstream behind it: a raw TCP server that parses each
// request itself and keeps the request-target, Host, headers and body exactly
// as they arrived.
//
// The cases come from RFC 8725 (JWT best current practice), RFC 7515/7519
// (JWS, JWT), RFC 6750 (bearer tokens), RFC 9112 (message framing,
// smuggling, pipelining), RFC 3986 (paths) and the public JWT attack
// catalogues, and are written against docs/reference.md §3. Attacks go out as raw
// bytes on a TCP connection, so that nothing in a client library normalises
// them away. Every case asserts the status, the JSON error code and the
// WWW-Authenticate challenge the client gets, and what the upstream
// received: nothing for a refusal, exactly the expected requests otherwise,
// and never a smuggled second one.
//
// The package has no code of its own, only tests. Run it with
//
//	go test ./internal/attack
//
// or one attack class with, e.g.,
//
//	go test ./internal/attack -run 'TestAttack/framing' -v
//
// It is skipped with -short, because it builds the binary. Cases where the
// contract is silent and the gateway does not (yet) do the safe thing are
// skipped with a "the reference is silent" message that says what they would expect;
// ATTACK_SILENT=1 runs them anyway.
package attack
