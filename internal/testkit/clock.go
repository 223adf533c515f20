package testkit

import (
	"sync/atomic"
	"time"
)

// Clock is a manual clock for the Now options of the gateway, its key
// caches and verifiers: it stands still until the test advances it, so a
// test passes min_refresh_interval, max_stale or a token's expiry by
// calling Advance instead of sleeping, and real time spent on a slow
// machine changes nothing those rules decide. It is safe for concurrent
// use.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock that reads start until advanced.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(start.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
