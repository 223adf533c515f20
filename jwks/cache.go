// Package jwks fetches, caches and refreshes one issuer's JSON Web Key Set
// (RFC 7517 §5), found directly or through OpenID Connect Discovery.
//
// Requests read an immutable Set through an atomic pointer and never wait on
// a lock held during a fetch. One background loop (Run) refreshes the set; an
// unknown kid triggers at most one shared, rate-limited refetch
// (RefreshForKID). The last good set keeps serving while fetches fail, until
// it is older than MaxStale (docs/reference.md §3.3 step 5, §5).
package jwks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/authgate/authgate/internal/reason"
)

// defaultBackoff is the first retry delay after a failed fetch.
const defaultBackoff = time.Second

// maxInitialBackoff caps retries while no key set has ever been fetched, so a
// gateway started before its issuer becomes ready soon after the issuer does.
const maxInitialBackoff = time.Minute

// fetchKey is the single singleflight key: every fetch, periodic or on
// demand, runs under it, so fetches never overlap.
const fetchKey = "fetch"

// Cache holds one issuer's key set. Its methods are safe for concurrent use.
type Cache struct {
	o            Options
	discoveryURL *url.URL // nil when Options.JWKSURL is set
	label        string   // where keys come from, redacted, for errors
	backoff      time.Duration

	set     atomic.Pointer[Set] // last good set; nil until the first success
	sf      singleflight.Group
	kick    chan struct{} // tells Run that a fetch rescheduled the next one
	running atomic.Bool

	mu          sync.Mutex // guards the fields below; never held during I/O
	jwksURL     *url.URL   // explicit, or discovered; nil until discovered
	etag        string
	lastAttempt time.Time
	lastSuccess time.Time
	lastError   string
	failures    int       // consecutive failed fetches
	nextDue     time.Time // wall clock with monotonic reading, for Run's timer
	nextRefresh time.Time // Options.Now based, for Status
}

// Status is a point-in-time report for /readyz and logs.
type Status struct {
	// URL is the key set URL without user info or query; "" until discovery
	// has succeeded.
	URL string
	// LastAttempt is when the last fetch started; zero if none has.
	LastAttempt time.Time
	// LastSuccess is when the issuer last delivered or confirmed a usable set;
	// zero if it never has.
	LastSuccess time.Time
	// LastError describes the last fetch's failure, "" after a success. It
	// never contains user info, a query string or key material.
	LastError string
	// Keys is the number of usable keys in the current set, stale or not.
	Keys int
	// NextRefresh is when Run plans the next fetch; zero before the first.
	NextRefresh time.Time
}

// New validates o, fills defaults and returns a Cache that holds no keys yet;
// call Run to fetch and refresh them. It performs no I/O.
func New(o Options) (*Cache, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Cache{o: o, backoff: defaultBackoff, kick: make(chan struct{}, 1)}
	if o.JWKSURL != "" {
		u, _ := url.Parse(o.JWKSURL) // validated above
		c.jwksURL, c.label = u, redact(u)
	} else {
		u, _ := url.Parse(strings.TrimSuffix(o.Issuer, "/") + discoveryPath)
		c.discoveryURL, c.label = u, redact(u)
	}
	return c, nil
}

// Run performs the initial fetch (retried with exponential backoff + jitter, starting ~1s,
// capped at min(1m, RefreshInterval), never giving up) and then refreshes periodically, until ctx
// ends. Failed refreshes back off up to RefreshInterval, or up to min(1m, RefreshInterval) once
// the last good set is stale or would be before such a retry. It never blocks callers of Keys. Returns nil when ctx ends. A Cache
// has at most one Run active; a concurrent second call returns an error.
func (c *Cache) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return fmt.Errorf("jwks %s: Run is already active", c.label)
	}
	defer c.running.Store(false)

	// The first fetch is immediate, unless on-demand fetches already set a
	// schedule (nextDue is zero otherwise).
	c.mu.Lock()
	due := c.nextDue
	c.mu.Unlock()
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.kick:
			// An on-demand fetch happened; the schedule counts from it.
		case <-timer.C:
			_, _, _ = c.sf.Do(fetchKey, func() (any, error) {
				return nil, c.attempt(ctx, false)
			})
			select {
			case <-c.kick: // our own fetch's notice
			default:
			}
		}
		c.mu.Lock()
		due = c.nextDue
		c.mu.Unlock()
		timer.Reset(time.Until(due))
	}
}

// Keys returns the current snapshot, lock-free (atomic.Pointer). When the cache has never had a
// set, or the last good set is older than MaxStale, it returns an error wrapping
// reason.ErrKeysUnavailable.
func (c *Cache) Keys() (*Set, error) {
	s := c.set.Load()
	if s == nil {
		return nil, fmt.Errorf("jwks %s: no key set fetched yet: %w", c.label, reason.ErrKeysUnavailable)
	}
	if age := c.o.Now().Sub(s.Fetched); age > c.o.MaxStale {
		return nil, fmt.Errorf("jwks %s: last good key set is %s old, over max_stale %s: %w",
			c.label, age.Round(time.Second), c.o.MaxStale, reason.ErrKeysUnavailable)
	}
	return s, nil
}

// RefreshForKID is called when a token's kid is not in the current set. It fetches at most
// once per MinRefreshInterval counted from the previous fetch of ANY kind (periodic, initial
// or on-demand, successful or not); concurrent callers share one fetch (golang.org/x/sync/singleflight).
// When a fetch is not allowed yet it returns the current snapshot immediately without waiting.
// It returns the (possibly new) snapshot, or the Keys() error. A caller
// arriving while any fetch is in flight shares that fetch. If ctx ends first,
// it returns at once; the shared fetch carries on for the others.
func (c *Cache) RefreshForKID(ctx context.Context, kid string) (*Set, error) {
	if s, err := c.Keys(); err == nil && s.HasKID(kid) {
		return s, nil // another caller's refetch already brought it in
	}
	// The fetch is shared, so one caller's cancellation must not abort it;
	// Options.Timeout still bounds it.
	fctx := context.WithoutCancel(ctx)
	ch := c.sf.DoChan(fetchKey, func() (any, error) {
		return nil, c.attempt(fctx, true)
	})
	select {
	case <-ch:
	case <-ctx.Done():
	}
	return c.Keys()
}

// Seed starts c with the last good key set of from, a cache for the same
// issuer and key set URL whose fetch settings differ (a reload changed
// refresh_interval, say). Without it, every token of the issuer would be
// answered 503 until c's first fetch; with it, c serves from's keys (aged
// from when from fetched them) while its Run fetches anew. It does nothing
// once c has a set of its own.
func (c *Cache) Seed(from *Cache) {
	s := from.set.Load()
	if s == nil || !c.set.CompareAndSwap(nil, s) {
		return
	}
	st := from.Status()
	c.mu.Lock()
	c.lastSuccess = st.LastSuccess
	c.mu.Unlock()
}

// Ready reports whether Keys would succeed now.
func (c *Cache) Ready() bool {
	_, err := c.Keys()
	return err == nil
}

// Status reports LastSuccess time, LastError (string, never containing secrets), Keys count, for /readyz and logs.
func (c *Cache) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{
		LastAttempt: c.lastAttempt,
		LastSuccess: c.lastSuccess,
		LastError:   c.lastError,
		Keys:        c.set.Load().Len(),
		NextRefresh: c.nextRefresh,
	}
	if c.jwksURL != nil {
		st.URL = redact(c.jwksURL)
	}
	return st
}

// errNotAllowed reports that a gated fetch was refused by the rate limit.
var errNotAllowed = errors.New("refetch not allowed yet")

// attempt runs one fetch and records its outcome. It must only run under
// c.sf with fetchKey, which serialises all writers of c.set. gated applies
// the MinRefreshInterval limit; Run's own fetches are paced by their schedule.
func (c *Cache) attempt(ctx context.Context, gated bool) error {
	start := c.o.Now()
	c.mu.Lock()
	if gated && !c.lastAttempt.IsZero() && start.Sub(c.lastAttempt) < c.o.MinRefreshInterval {
		c.mu.Unlock()
		return errNotAllowed
	}
	c.lastAttempt = start
	u, etag := c.jwksURL, c.etag
	c.mu.Unlock()

	prev := c.set.Load()
	if prev == nil {
		etag = "" // a 304 could not restore a set we do not have
	}
	var res fetched
	var err error
	if u == nil {
		if u, err = c.discover(ctx); err == nil {
			c.mu.Lock()
			c.jwksURL, c.etag = u, ""
			c.mu.Unlock()
			etag = ""
		}
	}
	if err == nil {
		res, err = c.fetchKeys(ctx, u, etag)
	}
	if err != nil && ctx.Err() != nil {
		// Shut down mid-fetch: not the issuer's failure, nothing to record.
		return err
	}
	c.record(prev, res, err)
	return err
}

// record stores a fetch's outcome, schedules the next fetch, logs and
// observes it.
func (c *Cache) record(prev *Set, res fetched, err error) {
	now := c.o.Now()
	result := ResultSuccess
	var next time.Duration
	cur := prev

	c.mu.Lock()
	switch {
	case err != nil:
		result = ResultError
		c.failures++
		c.lastError = err.Error()
		next = c.retryAfter(c.failures, prev, now)
	default:
		if res.notModified {
			result = ResultNotModified
			cur = prev.confirmed(now)
		} else {
			cur = newSet(res.keys, now)
			c.etag = res.etag
		}
		c.set.Store(cur)
		c.failures = 0
		c.lastError = ""
		c.lastSuccess = now
		next = refreshAfter(res.header, c.o.MinRefreshInterval, c.o.RefreshInterval)
	}
	c.nextDue = time.Now().Add(next)
	c.nextRefresh = now.Add(next)
	c.mu.Unlock()

	select {
	case c.kick <- struct{}{}:
	default:
	}
	if c.o.Observe != nil {
		c.o.Observe(result, cur.Len())
	}
	c.log(prev, cur, result, err, next)
}

// retryAfter is the delay before retrying after the n-th consecutive failure,
// given the last good set (nil if none) at now: exponential from c.backoff
// with equal jitter, so that many gateways do not retry in lockstep. Once a
// set exists it is never below MinRefreshInterval.
//
// The ceiling is RefreshInterval while the set will still be usable a whole
// RefreshInterval from now. Without a set, or once it is stale or about to
// be, the ceiling is at most maxInitialBackoff: requests are getting (or
// will soon get) 503s, so the keys must come back soon after the issuer
// does, not up to a RefreshInterval later.
func (c *Cache) retryAfter(n int, prev *Set, now time.Time) time.Duration {
	ceiling := c.o.RefreshInterval
	if prev == nil || now.Add(ceiling).Sub(prev.Fetched) > c.o.MaxStale {
		ceiling = min(ceiling, maxInitialBackoff)
	}
	d := ceiling
	if shift := n - 1; shift < 32 {
		if b := c.backoff << shift; b > 0 && b < ceiling {
			d = b
		}
	}
	d = d/2 + rand.N(d/2+1)
	if prev != nil {
		d = max(d, c.o.MinRefreshInterval)
	}
	return d
}

// log reports a fetch outcome, once per fetch: changes at info, failures at
// warn, routine refreshes at debug. A discovery document naming another
// issuer is logged at error: a wrong issuer setting or a document that is
// not the issuer's, which needs an operator rather than patience.
func (c *Cache) log(prev, cur *Set, result string, err error, next time.Duration) {
	l := c.o.Logger
	level := slog.LevelWarn
	if _, ok := errors.AsType[*issuerMismatchError](err); ok {
		level = slog.LevelError
	}
	ctx := context.Background()
	switch {
	case err != nil && prev == nil:
		l.Log(ctx, level, "key set fetch failed; no keys yet", "err", err.Error(), "retry_in", next.Round(time.Millisecond))
	case err != nil:
		l.Log(ctx, level, "key set refresh failed; serving the previous set",
			"err", err.Error(), "set_age", c.o.Now().Sub(prev.Fetched).Round(time.Second),
			"retry_in", next.Round(time.Millisecond))
	case result == ResultSuccess && !sameKIDs(prev, cur):
		l.Info("key set updated", "keys", cur.Len(), "kids", kids(cur), "next_refresh_in", next)
	default:
		l.Debug("key set refreshed", "result", result, "keys", cur.Len(), "next_refresh_in", next)
	}
}

// kids lists a set's key ids in order, for logs.
func kids(s *Set) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		out[i] = k.KID
	}
	return out
}

// sameKIDs reports whether two sets hold the same key ids in the same order.
func sameKIDs(a, b *Set) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(kids(a), kids(b))
}
