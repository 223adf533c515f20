package credentials

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrUnavailable is wrapped by every error of Token: no valid token is
// cached and none could be had. The proxy answers 502 bad_gateway.
var ErrUnavailable = errors.New("upstream credential unavailable")

// Backoff of the refresh loop after a failed fetch: it doubles from
// backoffMin to backoffMax.
const (
	backoffMin = time.Second
	backoffMax = time.Minute
	// retryAfterFailure is how long Token answers a failed fetch's error
	// again instead of fetching, so a down token endpoint under load sees
	// at most one request per interval from requests.
	retryAfterFailure = time.Second
)

// ClientCredentials is a client-credentials token source (RFC 6749 §4.4).
// Token serves the cached token without blocking while it is valid; Run
// refreshes it ahead of expiry. It is safe for concurrent use.
type ClientCredentials struct {
	*endpoint

	cur     atomic.Pointer[token]
	failure atomic.Pointer[failure]
	sf      singleflight.Group
	// changed is signalled (without blocking) whenever cur changes other
	// than by Run, so that Run reschedules.
	changed chan struct{}
}

// token is one access token with the times that matter for it.
type token struct {
	value     string
	expiry    time.Time
	refreshAt time.Time
}

type failure struct {
	err error
	at  time.Time
}

// New validates o, fills its defaults and reads the client secret. It
// starts nothing: Run refreshes, and the first Token fetches if Run has
// not yet.
func New(o Options) (*ClientCredentials, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	e, err := newEndpoint(o, ccPath)
	if err != nil {
		return nil, err
	}
	return &ClientCredentials{endpoint: e, changed: make(chan struct{}, 1)}, nil
}

// Token returns the access token to send upstream for a request whose
// verified client token is clientToken ("" when anonymous); a
// client-credentials source ignores clientToken. While the cached token is
// valid it returns at once; otherwise concurrent callers share one fetch,
// which ctx's cancellation abandons but does not abort. Its error wraps
// ErrUnavailable and names the credential, never the secret.
func (c *ClientCredentials) Token(ctx context.Context, clientToken string) (string, error) {
	if t := c.cur.Load(); t != nil && c.o.Now().Before(t.expiry) {
		return t.value, nil
	}
	if f := c.failure.Load(); f != nil && c.o.Now().Sub(f.at) < retryAfterFailure {
		return "", f.err
	}
	ch := c.sf.DoChan("token", func() (any, error) {
		// A fetch that finished between the check above and this call
		// has stored a token; do not fetch again.
		if t := c.cur.Load(); t != nil && c.o.Now().Before(t.expiry) {
			return t, nil
		}
		t, err := c.fetch(context.WithoutCancel(ctx))
		if err == nil {
			c.signal()
		}
		return t, err
	})
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("%w: credential %q: %w", ErrUnavailable, c.o.Name, context.Cause(ctx))
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(*token).value, nil
	}
}

// Invalidate drops token after the upstream refused it (401), if it is
// still the cached one, so the next Token fetches anew. An older token is
// ignored: the cache already holds a newer one.
func (c *ClientCredentials) Invalidate(clientToken, token string) {
	if t := c.cur.Load(); t != nil && t.value == token && c.cur.CompareAndSwap(t, nil) {
		c.signal()
	}
}

func (c *ClientCredentials) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Run keeps a token cached until ctx ends, then returns nil. It fetches
// one at once, then again at the token's refresh time (see refreshAt), so
// requests find a valid token. A failed fetch is logged once and retried
// after a backoff that doubles from 1s to 1m, while Token keeps serving a
// token that has not expired. A token fetched or dropped outside Run
// reschedules it.
func (c *ClientCredentials) Run(ctx context.Context) error {
	var backoff time.Duration
	for {
		wait := backoff
		if backoff == 0 {
			if t := c.cur.Load(); t != nil {
				wait = t.refreshAt.Sub(c.o.Now())
			}
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-c.changed:
				// A request fetched a token or Invalidate dropped one:
				// start over from the new state.
				backoff = 0
				continue
			case <-c.o.After(wait):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		// Requests may join this fetch: it must not end with Run's ctx
		// (a reload stopping this runtime), which only stops the wait.
		ch := c.sf.DoChan("token", func() (any, error) { return c.fetch(context.WithoutCancel(ctx)) })
		var err error
		select {
		case <-ctx.Done():
			return nil
		case r := <-ch:
			err = r.Err
		}
		if err == nil {
			if backoff > 0 {
				c.o.Logger.Info("credential refresh recovered", "credential", c.o.Name)
			}
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, backoffMin), backoffMax)
		t := c.cur.Load()
		attrs := []any{"credential", c.o.Name, "error", err.Error(), "retry_in", backoff.String()}
		if t != nil && c.o.Now().Before(t.expiry) {
			attrs = append(attrs, "token_expires_in", t.expiry.Sub(c.o.Now()).Round(time.Second).String())
		} else {
			attrs = append(attrs, "token_expires_in", "expired")
		}
		c.o.Logger.Error("credential refresh failed", attrs...)
	}
}

// fetch requests a token, stores it and reports it to the hooks.
func (c *ClientCredentials) fetch(ctx context.Context) (*token, error) {
	now := c.o.Now()
	value, lifetime, err := c.request(ctx, url.Values{"grant_type": {"client_credentials"}}) // RFC 6749 §4.4.2
	if c.o.Fetched != nil {
		c.o.Fetched(err == nil)
	}
	if err != nil {
		err = fmt.Errorf("%w: credential %q: %w", ErrUnavailable, c.o.Name, err)
		c.failure.Store(&failure{err: err, at: c.o.Now()})
		return nil, err
	}
	t := &token{value: value, expiry: now.Add(lifetime)}
	t.refreshAt = c.refreshAt(now, lifetime)
	c.failure.Store(nil)
	c.cur.Store(t)
	if c.o.Expires != nil {
		c.o.Expires(t.expiry)
	}
	return t, nil
}

// refreshAt is when a token obtained at now with lifetime is refreshed:
// refresh_before ahead of its expiry, moved by a jitter uniform within
// ±10% of refresh_before so that replicas started together spread their
// fetches, but never earlier than halfway through its lifetime, so a
// lifetime shorter than refresh_before does not make Run fetch
// continuously.
func (c *ClientCredentials) refreshAt(now time.Time, lifetime time.Duration) time.Time {
	rb := c.o.RefreshBefore
	if span := int64(rb / 5); span > 0 {
		rb += time.Duration(rand.Int64N(span+1) - span/2)
	}
	return now.Add(max(lifetime-rb, lifetime/2))
}
