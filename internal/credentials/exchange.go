package credentials

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/authgate/authgate/internal/field"
)

// Token exchange (RFC 8693 §2.1) parameters.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// DefaultCacheSize is how many exchanged tokens a TokenExchange keeps when
// ExchangeOptions.CacheSize is 0.
const DefaultCacheSize = 10000

const exPath = "token_exchange"

// ErrRefused is wrapped by a TokenExchange's Token error when the token
// endpoint refused to exchange this client's token (see refusalCodes): a
// verdict on the client's token or on the target, not a fault of the
// gateway. The error also has a Refused method reporting true, which the
// proxy matches to answer 403 insufficient_scope without importing this
// package. Every other error of Token wraps ErrUnavailable (502).
var ErrRefused = errors.New("token exchange refused")

// refusalCodes are the RFC 6749 §5.2 and RFC 8693 §2.2.2 error codes that
// refuse the client's token or what it asks for, rather than the gateway:
//   - invalid_grant: the subject token is invalid, expired, or not one the
//     identity provider will exchange (its audience, its user);
//   - invalid_target: the audience or resource is not one this subject may
//     get a token for (RFC 8693 §2.2.2);
//   - invalid_scope: the scopes asked for exceed what the subject may have.
//
// invalid_request is not among them: the gateway builds the request, so a
// malformed one is a gateway or configuration fault (502), and telling a
// complaint "about the subject" apart would mean matching free-form
// error_description text. invalid_client, unauthorized_client and every
// other code refuse the gateway itself (502).
var refusalCodes = map[string]bool{"invalid_grant": true, "invalid_target": true, "invalid_scope": true}

// refusedError is a Token error wrapping ErrRefused.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// Refused reports true: the proxy's check for a refusal (403).
func (e *refusedError) Refused() bool { return true }

// ExchangeOptions configures a TokenExchange. Of Options, RefreshBefore,
// After and Expires are not used: an exchanged token is fetched when a
// request needs it and never refreshed ahead.
type ExchangeOptions struct {
	Options
	// CacheSize bounds how many exchanged tokens are kept, one per client
	// token; 0 means DefaultCacheSize, negative is an error.
	CacheSize int
}

// Validate reports every configuration error of o, as field errors under
// token_exchange. It does not read the secret: NewTokenExchange does.
func (o ExchangeOptions) Validate() error {
	err := o.Options.validate(exPath)
	if o.CacheSize < 0 {
		err = errors.Join(err, field.Errorf(exPath+".cache_size", "must not be negative"))
	}
	return err
}

// TokenExchange exchanges each client's verified token for one to send
// upstream (RFC 8693, docs/reference.md §3.8). It caches the result per client
// token, keyed by the token's SHA-256 (the token itself is never a key nor
// kept), in an LRU bounded by CacheSize; each entry is valid until the
// earlier of its expires_in and the client token's exp. Concurrent
// requests with the same client token share one exchange. It is safe for
// concurrent use.
type TokenExchange struct {
	*endpoint
	size int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element // of *exEntry
	lru     list.List                           // front: most recently used
	sf      singleflight.Group
}

type exEntry struct {
	key    [sha256.Size]byte
	value  string
	expiry time.Time
}

// NewTokenExchange validates o, fills its defaults and reads the client
// secret. It starts nothing.
func NewTokenExchange(o ExchangeOptions) (*TokenExchange, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	e, err := newEndpoint(o.Options, exPath)
	if err != nil {
		return nil, err
	}
	return &TokenExchange{endpoint: e, size: o.CacheSize, entries: map[[sha256.Size]byte]*list.Element{}}, nil
}

// Token returns the token to send upstream for a request whose verified
// client token is clientToken: "" with a nil error when clientToken is ""
// (an anonymous request on an optional route has nothing to exchange and
// goes upstream without Authorization). A cached, unexpired exchange is
// returned at once; otherwise concurrent callers with the same client
// token share one exchange, which ctx's cancellation abandons but does
// not abort. Its errors name the credential, never the secret nor the
// client token, and wrap ErrRefused (the token endpoint refused this
// client's token or target) or ErrUnavailable (anything else).
//
// clientToken must have been verified (the proxy calls Token only after
// verification and policy): its exp is read from the payload without
// checking the signature again.
func (x *TokenExchange) Token(ctx context.Context, clientToken string) (string, error) {
	if clientToken == "" {
		return "", nil
	}
	key := sha256.Sum256([]byte(clientToken))
	if v, ok := x.lookup(key); ok {
		return v, nil
	}
	ch := x.sf.DoChan(string(key[:]), func() (any, error) {
		// An exchange that finished between the lookup above and this
		// call has stored its result; do not exchange again.
		if v, ok := x.lookup(key); ok {
			return v, nil
		}
		return x.exchange(context.WithoutCancel(ctx), key, clientToken)
	})
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("%w: credential %q: %w", ErrUnavailable, x.o.Name, context.Cause(ctx))
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}

// exchange posts the token exchange request (RFC 8693 §2.1) and caches its
// result.
func (x *TokenExchange) exchange(ctx context.Context, key [sha256.Size]byte, clientToken string) (string, error) {
	now := x.o.Now()
	value, lifetime, err := x.request(ctx, url.Values{
		"grant_type":         {grantTokenExchange},
		"subject_token":      {clientToken},
		"subject_token_type": {tokenTypeAccess},
	})
	if x.o.Fetched != nil {
		x.o.Fetched(err == nil)
	}
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) && strings.Contains(oe.Description, clientToken) {
			// A provider echoing the subject token: keep it out of logs.
			oe.Description = ""
		}
		if errors.As(err, &oe) && refusalCodes[oe.Code] {
			return "", &refusedError{fmt.Errorf("%w: credential %q: %w", ErrRefused, x.o.Name, err)}
		}
		return "", fmt.Errorf("%w: credential %q: %w", ErrUnavailable, x.o.Name, err)
	}
	expiry := now.Add(lifetime)
	if exp, ok := tokenExp(clientToken); ok && exp.Before(expiry) {
		expiry = exp
	}
	if x.o.Now().Before(expiry) {
		x.store(&exEntry{key: key, value: value, expiry: expiry})
	}
	return value, nil
}

// lookup returns the cached, unexpired value for key, marking it recently
// used; an expired entry is dropped.
func (x *TokenExchange) lookup(key [sha256.Size]byte) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	el, ok := x.entries[key]
	if !ok {
		return "", false
	}
	e := el.Value.(*exEntry)
	if !x.o.Now().Before(e.expiry) {
		x.remove(el)
		return "", false
	}
	x.lru.MoveToFront(el)
	return e.value, true
}

// store caches e, replacing an entry of the same key and evicting the
// least recently used entry beyond the bound.
func (x *TokenExchange) store(e *exEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if el, ok := x.entries[e.key]; ok {
		x.remove(el)
	}
	x.entries[e.key] = x.lru.PushFront(e)
	for x.lru.Len() > x.size {
		x.remove(x.lru.Back())
	}
}

func (x *TokenExchange) remove(el *list.Element) {
	delete(x.entries, el.Value.(*exEntry).key)
	x.lru.Remove(el)
}

// Len is how many exchanged tokens are cached now, expired ones not yet
// dropped included.
func (x *TokenExchange) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lru.Len()
}

// Invalidate drops the token exchanged for clientToken after the upstream
// refused it (401), if it is still the cached one, so that the next Token
// exchanges anew.
func (x *TokenExchange) Invalidate(clientToken, token string) {
	if clientToken == "" {
		return
	}
	key := sha256.Sum256([]byte(clientToken))
	x.mu.Lock()
	defer x.mu.Unlock()
	if el, ok := x.entries[key]; ok && el.Value.(*exEntry).value == token {
		x.remove(el)
	}
}

// Run does nothing until ctx ends, then returns nil: a TokenExchange has no
// background work, but is a job like every token source so that a reload
// with unchanged settings keeps it and its cache.
func (x *TokenExchange) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// tokenExp reads the exp claim of a compact JWS's payload, which the
// caller has verified.
func tokenExp(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Exp == "" {
		return time.Time{}, false
	}
	f, err := c.Exp.Float64()
	if err != nil || f <= 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}
