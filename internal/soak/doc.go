// Package soak holds authgate's bounded soak test: mixed good and hostile
// traffic at high concurrency for about a minute while the issuer rotates
// its keys and the configuration is reloaded, asserting that no request is
// ever decided wrongly, that nothing answers 5xx, and that goroutines, file
// descriptors and memory come back to where they started. The package has
// no code of its own; the test is behind the "soak" build tag so that the
// default go test ./... stays fast:
//
//	go test -tags soak -count=1 -run Soak -v ./internal/soak/
//
// AUTHGATE_SOAK_DURATION (a Go duration, default 60s) sets how long traffic
// runs, AUTHGATE_SOAK_WORKERS (default 64) how many clients send it at once,
// and AUTHGATE_SOAK_MAX_REQUESTS (default 3000000) caps the request count.
// Every loop stops by itself at the deadline or the cap, whichever is first.
//
// # In-process, not the binary
//
// The gateway runs in the test process through gateway.Serve, the function
// the binary's serve command calls, on real loopback listeners, with its
// configuration loaded from a file by config.Load as in production. Only in
// process can the test count the gateway's goroutines (runtime.NumGoroutine;
// the binary exposes no goroutine count) next to its file descriptors
// (/proc/self/fd) and peak RSS (VmHWM in /proc/self/status). Reloads use the
// real signal path: the test sends SIGHUP to its own process, which the
// gateway's reload loop receives exactly as the binary would (the test
// subscribes to SIGHUP itself first, so the signal can never take the default
// action of ending the process). The figures therefore include the test's
// own clients, fake issuer and upstream; the baseline is taken before any of
// them start and every one of them is closed before the final count.
//
// # Traffic classes and their verdicts
//
// Each request carries X-Request-Id "s.<class>.<seq>.<sub>", which the
// gateway passes through. A counting upstream checks every arrival against
// it: a request of a class that must be refused must never arrive, an
// allowed one must arrive once, with the verified subject as X-User-Id (every
// client also sends a spoofed X-User-Id, which must never get through) and
// without an Upgrade header. The client checks status, error code,
// description and challenge. Classes:
//
//   - valid: RS256 token from the stable key, which is published for the
//     whole run. 200.
//   - rotating: token from the current rotating key (below). 200.
//   - expired: stable key, exp two hours ago, far beyond any clock skew.
//     401 invalid_token.
//   - forged: kid of the stable key, signed by an unrelated RSA key. 401
//     invalid_token (bad signature).
//   - unknown_kid: a kid that was never published. 401 invalid_token; each one
//     may ask for a key set refetch, which the gateway rate-limits.
//   - retired: a rotating key withdrawn at least one full rotation ago. 401
//     invalid_token.
//   - no_token: the required route without Authorization. 401 unauthorized
//     with a bare Bearer challenge.
//   - public: the auth-none route. 200, no identity header.
//   - h2c: a raw TCP request asking to upgrade to h2c (on the public route,
//     or on the required route with a valid token). It must be answered as
//     plain HTTP/1.1 (200, the upstream saw no Upgrade) or refused, never with
//     101. The upstream answers 101 to any h2c upgrade that reaches it, as an
//     h2c-capable server would, so a gateway that passed the upgrade on would
//     open a tunnel, and the test would see it.
//
// # Key rotation with well-defined verdicts
//
// The gateway holds whatever key set its last fetch returned, and fetches
// when its refresh interval (2s here) passes or when a token names an
// unknown kid (at most once per min_refresh_interval, 250ms here). Fetches
// never overlap, so the sets the gateway holds follow the order in which the
// issuer published them. Rotation k, for rotating keys R0, R1, …:
//
//  1. publish {stable, R(k-1), Rk};
//  2. probe with an Rk token until the gateway accepts it: from then on the
//     gateway holds a set published in step 1 or later;
//  3. make Rk the key of the rotating class, under a write lock that waits
//     for every in-flight R(k-1) request to finish (rotating requests hold
//     the read lock while they are sent);
//  4. publish {stable, Rk}, withdrawing R(k-1).
//
// A rotating request therefore only ever carries a key that is published
// throughout its flight and known to the gateway when it is sent: always 200.
// After step 2 of rotation k, R(k-2) is in no set the gateway can hold again
// (it was withdrawn in rotation k-1's step 4, before rotation k's step 1), so
// the retired class uses R(k-2) only from then on: always 401. The stable key
// is in every set, so valid, expired and forged tokens never depend on timing.
//
// # Reloads
//
// The configuration file is rewritten and SIGHUP sent six times over the run,
// cycling through variant B (an extra auth-none route /extra, one more
// forwarded header, and a different clock skew for the issuer, a change to
// the issuer's settings but not to where its keys come from), an invalid
// file, and variant A again. The invalid file names an HS256 algorithm,
// which is refused, and also makes /public require a token: were it applied,
// every public request would be a wrong decision. After each reload a probe
// of /extra shows which configuration serves (200 under B, 404 under A), so a
// refused reload is seen to leave the previous one serving. No variant
// changes the expected verdict of any class.
//
// # Pass criteria
//
// Zero wrong decisions; zero 5xx and zero transport errors (the issuer and
// upstream are up throughout, so nothing can explain a 502, 503 or 504);
// exactly one access log line per answered request and no log line holding
// token material; key set fetches within the rate limit; after every client,
// server and the gateway have closed, goroutines back to the baseline within
// 2 and file descriptors within 2 (polled for up to 15s: connections close
// asynchronously); peak RSS under 256 MiB, some nine times what a minute at
// 2,000 requests a second needs (2 GiB with -race, whose shadow memory
// multiplies it). The figures are printed in one summary block, also when
// the test fails. Also, after the test, goleak (main_test.go) finds no
// goroutine left running.
package soak
