package verify

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/authgate/authgate/internal/field"
	"github.com/authgate/authgate/jwks"
)

// DefaultCacheSize is the number of entries of the verified-token cache
// when the configuration does not say.
const DefaultCacheSize = 10000

// DefaultCacheMaxTTL is how long an entry of the verified-token cache lives
// at most, from insertion, when the configuration does not say.
const DefaultCacheMaxTTL = 5 * time.Minute

// CacheOptions configure a Cache (the verify_cache block).
type CacheOptions struct {
	// Size is the most entries held; 0 turns the cache off, negative is
	// refused.
	Size int
	// MaxTTL is the longest an entry lives from insertion; it must be
	// positive when Size is. An entry never outlives its token's exp
	// either.
	MaxTTL time.Duration
	// Lookup, if set, is called once per lookup: hit true when the entry
	// answered the request. It must be cheap: it runs on every request.
	Lookup func(hit bool)
	// Entries, if set, is called with the number of entries after every
	// insertion or removal, in the order they happened.
	Entries func(n int)
}

// Validate reports what NewCache would refuse in o, as *field.Error values
// named in configuration spelling (size, max_ttl). It builds nothing.
func (o CacheOptions) Validate() error {
	var errs []error
	if o.Size < 0 {
		errs = append(errs, field.Errorf("size", "must not be negative (0 turns the cache off)"))
	}
	if o.Size > 0 && o.MaxTTL <= 0 {
		errs = append(errs, field.Errorf("max_ttl", "must be positive while the cache is on (size above 0)"))
	}
	return errors.Join(errs...)
}

// Cache is the verified-token cache: a token seen again skips parsing and
// signature verification. It maps the SHA-256 of a token to what verifying
// it proved (the issuer, the key, the verified claims and the Identity), so
// no token is held, as a key or otherwise. A full SHA-256 rather than a
// fast hash: with a non-cryptographic one, a crafted token colliding with a
// cached one would be served that entry, another user's identity.
//
// What depends on the route or on time still runs on every hit, against
// the cached claims: the route's issuers and audiences, exp, nbf, iat,
// required claims and typ, and the check that the key which verified the
// signature is still in the issuer's current key set (same kid, same public
// key). Only tokens that passed all of that are admitted, so a flood of
// invalid tokens never displaces valid ones. An entry is dropped at the
// token's exp or MaxTTL after insertion, whichever is first, and when its
// key is found gone. The policy (scopes, claims) is not cached: it runs on
// every request, after Verify.
//
// The eviction structure is github.com/hashicorp/golang-lru/v2's 2Q cache:
// new entries go to a "recent" queue of a quarter of the size and move to
// the "frequent" one on their second use, so a flood of valid one-time
// tokens (a scan) churns the recent queue and leaves the working set of
// tokens in repeated use in place. It is small (no dependencies of its
// own), long used in production (Consul, Vault, Nomad), holds its bound
// exactly after every call, admits deterministically and starts no
// goroutines; its one mutex is held for a map lookup and a list move,
// tens of nanoseconds next to the hash of the token. Ristretto and otter
// (TinyLFU) scale better across many cores, but buffer their writes and
// may turn a new entry away by frequency, so a token just verified may not
// be cached and the bound holds only once the buffers drain.
//
// A Cache is shared by all the verifiers of one runtime (see
// Verifier.WithCache) and is safe for concurrent use. Entries hold the
// *Issuer they were verified for, so an issuer rebuilt by a reload never
// matches an old entry; a reload may as well build a fresh Cache.
type Cache struct {
	lru    *lru.TwoQueueCache[[sha256.Size]byte, *cached]
	maxTTL time.Duration
	lookup func(hit bool)

	// mu serialises insertions and removals with the Entries report, so
	// the last number reported is the current one. Lookups do not take it.
	mu      sync.Mutex
	entries func(n int)
}

// cached is one entry: what verifying the token established. It is
// immutable but for set.
type cached struct {
	issuer  *Issuer
	id      *Identity // shared by every hit: callers must not modify it
	c       compact   // header and claims only, for the route's checks
	expires time.Time // the token's exp or insertion plus MaxTTL, whichever is first
	pub     publicKey // the key that verified the signature
	// set is the key set pub was last found in: on a hit with this very
	// set the key needs no looking up; after a refresh it is looked up
	// once and set moves on.
	set atomic.Pointer[jwks.Set]
}

// publicKey is what every key type of a jwks.Set implements
// (*rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey): an equality that
// compares the key material, not the pointer.
type publicKey interface {
	Equal(crypto.PublicKey) bool
}

// NewCache validates o (see Validate) and returns the cache, or nil when
// o.Size is 0: a nil *Cache is a cache that is off, and Verifier.WithCache
// accepts it.
func NewCache(o CacheOptions) (*Cache, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Size == 0 {
		return nil, nil
	}
	l, err := lru.New2Q[[sha256.Size]byte, *cached](o.Size)
	if err != nil {
		return nil, err
	}
	return &Cache{lru: l, maxTTL: o.MaxTTL, lookup: o.Lookup, entries: o.Entries}, nil
}

// Len returns the number of entries, expired ones not yet dropped included;
// 0 for a nil Cache.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len()
}

// verify is Verify through the cache for v: a hit answers from the entry,
// a miss verifies in full and admits the token if it passed.
func (c *Cache) verify(ctx context.Context, v *Verifier, token string) (*Identity, error) {
	if len(token) > MaxTokenSize {
		// Refused at step 2 before any decoding; hashing it would cost more.
		id, _, err := v.verifyToken(ctx, token, nil)
		return id, err
	}
	// Sum256 only reads its argument, so the token's bytes are hashed in
	// place rather than copied to the heap first.
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	if id, ok, err := c.hit(v, key); ok {
		c.counted(true)
		return id, err
	}
	c.counted(false)
	id, p, err := v.verifyToken(ctx, token, nil)
	if err == nil {
		c.admit(key, id, p)
	}
	return id, err
}

func (c *Cache) counted(hit bool) {
	if c.lookup != nil {
		c.lookup(hit)
	}
}

// hit answers for the entry of key, if there is one that may answer on v's
// route; false sends the token to full verification. A route check that
// fails on the cached claims is an answer too, the same refusal full
// verification would give; anything else the full path may decide
// differently (another issuer of the same iss URL on this route, a key set
// now unavailable, a key now gone) it decides itself.
func (c *Cache) hit(v *Verifier, key [sha256.Size]byte) (*Identity, bool, error) {
	e, ok := c.lru.Get(key)
	if !ok {
		return nil, false, nil
	}
	is := e.issuer
	if v.byIss[is.opts.Issuer] != is {
		// Not this route's issuer: full verification refuses it as
		// untrusted_issuer, or verifies it with the route's own.
		return nil, false, nil
	}
	now := is.opts.Now()
	if !now.Before(e.expires) {
		c.drop(key, e)
		return nil, false, nil
	}
	set, err := is.opts.Keys.Keys()
	if err != nil {
		return nil, false, nil // full verification reports keys_unavailable
	}
	if set != e.set.Load() {
		if !e.keyIn(set) {
			c.drop(key, e)
			return nil, false, nil
		}
		e.set.Store(set)
	}
	if err := v.checkClaimsAt(is, &e.c, nil, now); err != nil {
		return nil, true, &Error{Issuer: is.opts.Name, Err: err}
	}
	return e.id, true, nil
}

// keyIn reports whether set still holds the key that verified the entry's
// token among the keys full verification would try for it: the token's
// kid, if it has one, and a key fit for its alg.
func (e *cached) keyIn(set *jwks.Set) bool {
	for _, k := range set.Candidates(e.c.header.kid, e.c.header.alg) {
		if e.pub.Equal(k.Public) {
			return true
		}
	}
	return false
}

// admit caches a token that passed every check of steps 2–6 on a route.
func (c *Cache) admit(key [sha256.Size]byte, id *Identity, p proof) {
	pub, ok := p.key.Public.(publicKey)
	if !ok {
		return
	}
	is := p.issuer
	now := is.opts.Now()
	expires := now.Add(c.maxTTL)
	if exp, ok, _ := numericDate(p.c.claims, "exp"); ok && exp.Before(expires) {
		expires = exp
	}
	if !now.Before(expires) {
		return // past exp, accepted within clock_skew: nothing to keep
	}
	e := &cached{
		issuer:  is,
		id:      id,
		c:       compact{header: p.c.header, claims: p.c.claims},
		expires: expires,
		pub:     pub,
	}
	e.set.Store(p.set)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(key, e)
	c.reportLocked()
}

// drop removes the entry of key if it is still e: another request may
// have replaced it with a fresh one meanwhile.
func (c *Cache) drop(key [sha256.Size]byte, e *cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.lru.Peek(key); ok && cur == e {
		c.lru.Remove(key)
		c.reportLocked()
	}
}

func (c *Cache) reportLocked() {
	if c.entries != nil {
		c.entries(c.lru.Len())
	}
}
