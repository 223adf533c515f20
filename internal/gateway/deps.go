package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/metrics"
)

// Deps are what a runtime takes from the process rather than from the
// configuration. Serve makes them once and passes the same Deps to every
// Build, so that what they hold outlives reloads. The zero value is ready
// to use (see withDefaults); check and explain build with it.
type Deps struct {
	// Logger receives every log line of the runtime: access lines, key
	// fetches (each cache's lines carry its issuer's name) and credential
	// refresh failures (with the credential's name). Nil: discarded.
	Logger *slog.Logger
	// Transport carries every upstream request of every route. Serve makes
	// one per process (proxy.NewTransport) and shares it between runtimes,
	// so pooled upstream connections survive a reload; no swap closes it,
	// and Serve closes its idle connections when it returns. Nil: each
	// runtime's handler makes a private one, released by Handler.Close; fit
	// for a runtime that is built, used once and dropped.
	Transport http.RoundTripper
	// Now is the clock of the key caches (min_refresh_interval, max_stale),
	// of the verifiers (exp, nbf, iat with clock_skew) and of the
	// credentials' token expiry. Nil: time.Now.
	// Tests pass a clock they advance instead of sleeping. The caches'
	// refresh timers still run on the wall clock.
	Now func() time.Time
	// Metrics, if set, receives the runtime's request, decision, upstream
	// and key set metrics: Build resolves the children of every route and
	// issuer and hands them to proxy.Options.Observe and
	// jwks.Options.Observe. Serve makes one per process. Nil: no metrics
	// (check and explain).
	Metrics *metrics.Metrics
}

// withDefaults returns d with its nil fields filled.
func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}
