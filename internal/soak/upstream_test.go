//go:build soak

package soak

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// bitset is a fixed-size set of request sequence numbers, safe for
// concurrent use.
type bitset []atomic.Uint64

func newBitset(n uint64) bitset { return make(bitset, n/64+1) }

// add sets bit i and reports whether it was already set.
func (b bitset) add(i uint64) (had bool) {
	m := uint64(1) << (i % 64)
	return b[i/64].Or(m)&m != 0
}

func (b bitset) has(i uint64) bool { return b[i/64].Load()&(uint64(1)<<(i%64)) != 0 }

// violations collects wrong decisions with a few examples of each kind for
// the report.
type violations struct {
	mu       sync.Mutex
	counts   map[string]int
	examples []string
}

func newViolations() *violations { return &violations{counts: map[string]int{}} }

// add counts one wrong decision of kind and keeps the first examples.
func (v *violations) add(kind, format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.counts[kind]++
	if v.counts[kind] <= 5 {
		v.examples = append(v.examples, kind+": "+fmt.Sprintf(format, args...))
	}
}

func (v *violations) total() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.counts {
		n += c
	}
	return n
}

// Kinds of wrong decision.
const (
	wrongAllowed  = "allowed, should have been refused"
	wrongRefused  = "refused, should have been allowed"
	wrongAnswer   = "wrong status or error for its class"
	wrongIdentity = "wrong identity header upstream"
	wrongUpgrade  = "upgrade passed on"
	wrongRequest  = "unexpected request upstream"
)

// upstream is the counting upstream. It decodes each arrival's
// X-Request-Id ("s.<class>.<seq>.<sub>", or "probe.<n>.<sub>" for the
// drivers' probes), checks it against its class and records it. It answers
// 200 with X-Soak-Upstream, so a client can tell an upstream answer from
// the gateway's own, except to an h2c upgrade, which it accepts with 101 as
// an h2c-capable server would.
type upstream struct {
	*httptest.Server
	arrived bitset
	wrong   *violations
	byClass [numClasses]atomic.Int64
	probes  atomic.Int64
}

func newUpstream(t *testing.T, maxSeq uint64, wrong *violations) *upstream {
	u := &upstream{arrived: newBitset(maxSeq + 1), wrong: wrong}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	parts := strings.SplitN(id, ".", 4)
	sub := ""
	switch {
	case len(parts) == 3 && parts[0] == "probe":
		u.probes.Add(1)
		sub = parts[2]
	case len(parts) == 4 && parts[0] == "s":
		c, ok := classByName[parts[1]]
		seq, err := strconv.ParseUint(parts[2], 10, 64)
		if !ok || err != nil || seq >= uint64(len(u.arrived))*64 {
			u.wrong.add(wrongRequest, "request id %q", id)
			break
		}
		sub = parts[3]
		u.byClass[c].Add(1)
		if !classes[c].allow {
			u.wrong.add(wrongAllowed, "%s reached the upstream (%s %s)", id, r.Method, r.URL.Path)
		}
		if u.arrived.add(seq) {
			u.wrong.add(wrongRequest, "%s arrived twice", id)
		}
	default:
		u.wrong.add(wrongRequest, "request id %q (%s %s)", id, r.Method, r.URL.Path)
	}
	// Strip before set: the client's spoofed X-User-Id must never arrive,
	// and the verified subject must, exactly once.
	if got := r.Header.Values("X-User-Id"); len(got) > 1 || r.Header.Get("X-User-Id") != sub {
		u.wrong.add(wrongIdentity, "%s: X-User-Id %q, want %q", id, got, sub)
	}
	if up := r.Header.Get("Upgrade"); up != "" {
		u.wrong.add(wrongUpgrade, "%s: upstream got Upgrade %q, Connection %q", id, up, r.Header.Get("Connection"))
		if strings.EqualFold(up, "h2c") {
			acceptH2C(w)
			return
		}
	}
	w.Header().Set("X-Soak-Upstream", "1")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok "+id+"\n")
}

// acceptH2C switches the connection to h2c as an h2c-capable upstream
// would (RFC 7540 §3.2), then closes it: if the gateway relayed this, a
// client would hold a tunnel past the gateway.
func acceptH2C(w http.ResponseWriter) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	_ = brw.Flush()
}
