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
	"github.com/authgate/authgate/internal/reason"
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
// key). Only tokens that passed all of that are admitted as verified, so
// a flood of invalid tokens never displaces valid ones. An entry is
// dropped at the token's exp or MaxTTL after insertion, whichever is
// first, and when its key is found gone. The policy (scopes, claims) is not cached: it runs on
// every request, after Verify.
//
// Expired tokens are remembered as refused, in a second, separate 2Q cache
// of a quarter of Size (at least one entry): a token whose signature
// verified and whose first failing claim check is exp. Such a token stays
// expired, since time only moves forward, so a client retrying it costs a
// hash and a lookup instead of a signature verification. This is safe
// because the memo answers through the same guards and checks as a hit:
// the same *Issuer on the route, the key still in the current set (keys
// unavailable or a key gone: full verification, which then refuses as
// keys_unavailable, unknown_key or bad_signature), then the route's claim
// checks on the cached claims, whose exp refusal is the one full
// verification gives at that moment, text included. Should they pass (a
// clock set back), the entry is dropped and the token verified in full:
// the memo only ever refuses. A memo entry holds no Identity, lives at most
// MaxTTL from insertion, and is never admitted for a bad signature, an
// unknown key or any other failure (cheap already, or not permanent). Being
// separate, a flood of expired tokens churns the memo and never evicts a
// valid entry.
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
	lru    *tokenLRU // tokens that passed every check
	memo   *tokenLRU // tokens refused as expired, with a verified signature
	maxTTL time.Duration
	lookup func(hit bool)

	// mu serialises insertions and removals with the Entries report, so
	// the last number reported is the current one. Lookups do not take it.
	mu      sync.Mutex
	entries func(n int)
}

// tokenLRU is one of a Cache's two LRUs, keyed by the SHA-256 of a token.
type tokenLRU = lru.TwoQueueCache[[sha256.Size]byte, *cached]

// cached is one entry: what verifying the token established. It is
// immutable but for set.
type cached struct {
	issuer  *Issuer
	id      *Identity // shared by every hit: callers must not modify it; nil in the memo
	c       compact   // header and claims only, for the route's checks
	expires time.Time // the token's exp or insertion plus MaxTTL, whichever is first; the memo: insertion plus MaxTTL
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
	l, err := new2Q(o.Size)
	if err != nil {
		return nil, err
	}
	memo, err := new2Q(max(o.Size/4, 1))
	if err != nil {
		return nil, err
	}
	return &Cache{lru: l, memo: memo, maxTTL: o.MaxTTL, lookup: o.Lookup, entries: o.Entries}, nil
}

// new2Q returns a 2Q cache of size entries with golang-lru's default
// ratios, but for a size below 2, where the default ghost list (half the
// size) would be empty and golang-lru refuses it: then a ghost list of one.
func new2Q(size int) (*tokenLRU, error) {
	ghost := lru.Default2QGhostEntries
	if size < 2 {
		ghost = 1
	}
	return lru.New2QParams[[sha256.Size]byte, *cached](size, lru.Default2QRecentRatio, ghost)
}

// Len returns the number of entries of both LRUs, the verified tokens and
// the expired ones remembered as refused, entries past their time not yet
// dropped included; 0 for a nil Cache.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len() + c.memo.Len()
}

// verify is Verify through the cache for v: a hit answers from the entry
// of a verified token or, failing that, of an expired one; a miss verifies
// in full and admits the token if it passed, or to the memo if it was
// refused as expired after its signature verified.
func (c *Cache) verify(ctx context.Context, v *Verifier, token string) (*Identity, error) {
	if len(token) > MaxTokenSize {
		// Refused at step 2 before any decoding; hashing it would cost more.
		id, _, err := v.verifyToken(ctx, token, nil)
		return id, err
	}
	// Sum256 only reads its argument, so the token's bytes are hashed in
	// place rather than copied to the heap first.
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	id, ok, err := c.hit(c.lru, v, key)
	if !ok {
		id, ok, err = c.hit(c.memo, v, key)
	}
	if ok {
		c.counted(true)
		return id, err
	}
	c.counted(false)
	id, p, err := v.verifyToken(ctx, token, nil)
	switch {
	case err == nil:
		c.admit(c.lru, key, id, p)
	case p.issuer != nil && errors.Is(err, reason.ErrExpired):
		// The signature verified (p is set) and the first claim check,
		// exp, failed: it fails on every later request too.
		c.admit(c.memo, key, nil, p)
	}
	return id, err
}

func (c *Cache) counted(hit bool) {
	if c.lookup != nil {
		c.lookup(hit)
	}
}

// hit answers for the entry of key in l (c.lru or c.memo), if there is one
// that may answer on v's route; false sends the token to full
// verification. A route check that fails on the cached claims is an answer
// too, the same refusal full verification would give; anything else the
// full path may decide differently (another issuer of the same iss URL on
// this route, a key set now unavailable, a key now gone) it decides
// itself. A memo entry only ever refuses.
func (c *Cache) hit(l *tokenLRU, v *Verifier, key [sha256.Size]byte) (*Identity, bool, error) {
	e, ok := l.Get(key)
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
		c.drop(l, key, e)
		return nil, false, nil
	}
	set, err := is.opts.Keys.Keys()
	if err != nil {
		return nil, false, nil // full verification reports keys_unavailable
	}
	if set != e.set.Load() {
		if !e.keyIn(set) {
			c.drop(l, key, e)
			return nil, false, nil
		}
		e.set.Store(set)
	}
	if err := v.checkClaimsAt(is, &e.c, nil, now); err != nil {
		return nil, true, &Error{Issuer: is.opts.Name, Err: err}
	}
	if e.id == nil {
		// A memo entry whose token passes now: the clock was set back.
		// Only full verification accepts a token.
		c.drop(l, key, e)
		return nil, false, nil
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

// admit adds the token of key to l: to c.lru with its Identity when it
// passed every check of steps 2–6 on a route, to c.memo with id nil when
// its signature verified and exp refused it.
func (c *Cache) admit(l *tokenLRU, key [sha256.Size]byte, id *Identity, p proof) {
	pub, ok := p.key.Public.(publicKey)
	if !ok {
		return
	}
	is := p.issuer
	now := is.opts.Now()
	expires := now.Add(c.maxTTL)
	if id != nil { // a memo entry's exp is past: MaxTTL alone bounds it
		if exp := p.c.exp; exp.ok && exp.t.Before(expires) {
			expires = exp.t
		}
		if !now.Before(expires) {
			return // past exp, accepted within clock_skew: nothing to keep
		}
	}
	e := &cached{
		issuer:  is,
		id:      id,
		c:       compact{header: p.c.header, claims: p.c.claims, exp: p.c.exp, nbf: p.c.nbf, iat: p.c.iat},
		expires: expires,
		pub:     pub,
	}
	e.set.Store(p.set)
	c.mu.Lock()
	defer c.mu.Unlock()
	l.Add(key, e)
	c.reportLocked()
}

// drop removes the entry of key from l if it is still e: another request
// may have replaced it with a fresh one meanwhile.
func (c *Cache) drop(l *tokenLRU, key [sha256.Size]byte, e *cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := l.Peek(key); ok && cur == e {
		l.Remove(key)
		c.reportLocked()
	}
}

// reportLocked reports the entries of both LRUs together.
func (c *Cache) reportLocked() {
	if c.entries != nil {
		c.entries(c.lru.Len() + c.memo.Len())
	}
}
