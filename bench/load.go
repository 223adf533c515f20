package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one load run: Conns keep-alive connections sending GET URL
// for Duration, cycling through Tokens as bearer tokens (none: no
// Authorization header).
type loadSpec struct {
	URL      string
	Conns    int
	Duration time.Duration
	Tokens   []string
}

// loadResult is what a load run measured. Latencies are in microseconds.
// Statuses counts responses by status code; the key statusNon2xx counts
// responses whose code the driver could not tell apart (wrk only knows
// "not 2xx or 3xx").
type loadResult struct {
	Requests    int64
	Seconds     float64
	Statuses    map[int]int64
	Errors      int64 // connect, read, write errors and timeouts
	P50, P99    float64
	P999, Max   float64
	Reconnects  int64 `json:",omitempty"`
	StatusExact bool  // Statuses holds real codes (not statusNon2xx)
}

// statusNon2xx is the Statuses key for "some code that is not 2xx or 3xx".
const statusNon2xx = -1

// rps is requests per second.
func (r loadResult) rps() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Seconds
}

// goLoad is the built-in load generator: one goroutine per connection, each
// writing a prebuilt HTTP/1.1 request and reading the whole response before
// the next (closed loop, keep-alive). Every latency is recorded and sorted
// for the percentiles; every status code is counted.
func goLoad(s loadSpec) (loadResult, error) {
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		return loadResult{}, fmt.Errorf("load: bad URL %q", s.URL)
	}
	reqs := prebuilt(u, s.Tokens)
	var (
		stop       atomic.Bool
		mu         sync.Mutex
		all        []int64
		statuses   = map[int]int64{}
		errs, reco atomic.Int64
		wg         sync.WaitGroup
	)
	start := time.Now()
	time.AfterFunc(s.Duration, func() { stop.Store(true) })
	for w := range s.Conns {
		wg.Go(func() {
			lat := make([]int64, 0, 1<<14)
			st := map[int]int64{}
			var conn net.Conn
			var br *bufio.Reader
			for i := w; !stop.Load(); i++ {
				if conn == nil {
					c, err := net.Dial("tcp", u.Host)
					if err != nil {
						errs.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 16<<10)
				}
				t0 := time.Now()
				code, keep, err := roundTrip(conn, br, reqs[i%len(reqs)])
				if err != nil {
					errs.Add(1)
					conn.Close()
					conn = nil
					continue
				}
				lat = append(lat, int64(time.Since(t0)/time.Microsecond))
				st[code]++
				if !keep {
					reco.Add(1)
					conn.Close()
					conn = nil
				}
			}
			if conn != nil {
				conn.Close()
			}
			mu.Lock()
			all = append(all, lat...)
			for k, v := range st {
				statuses[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res := loadResult{
		Requests: int64(len(all)), Seconds: time.Since(start).Seconds(), Statuses: statuses,
		Errors: errs.Load(), Reconnects: reco.Load(), StatusExact: true,
	}
	if len(all) == 0 {
		return res, errors.New("load: no request completed")
	}
	slices.Sort(all)
	res.P50, res.P99, res.P999 = percentile(all, 50), percentile(all, 99), percentile(all, 99.9)
	res.Max = float64(all[len(all)-1])
	return res, nil
}

// roundTrip writes one prebuilt request and reads its whole response.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (code int, keepAlive bool, err error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, !resp.Close, err
}

// prebuilt renders one GET request per token (one without Authorization
// when there are none), so the hot loop only writes bytes.
func prebuilt(u *url.URL, tokens []string) [][]byte {
	base := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: authgate-bench\r\n", u.RequestURI(), u.Host)
	if len(tokens) == 0 {
		return [][]byte{[]byte(base + "\r\n")}
	}
	out := make([][]byte, len(tokens))
	for i, t := range tokens {
		out[i] = []byte(base + "Authorization: Bearer " + t + "\r\n\r\n")
	}
	return out
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []int64, p float64) float64 {
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return float64(sorted[max(0, min(i, len(sorted)-1))])
}
