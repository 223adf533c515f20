//go:build soak

package soak

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/gateway"
	"github.com/authgate/authgate/internal/logging"
	"github.com/authgate/authgate/internal/testkit"
)

func (r *run) writeConfig(variant string) {
	if err := os.WriteFile(r.cfgPath, []byte(configYAML(variant)), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// startGateway runs gateway.Serve as the binary's serve command does and
// returns a function that stops it and waits for Serve to return.
func (r *run) startGateway(cfg *config.Config, load func() (*config.Config, error)) func() error {
	t := r.t
	level := new(slog.LevelVar)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- gateway.Serve(ctx, gateway.Options{
			Config: cfg, Reload: load, Logger: logging.New(r.logs, "json", level), LogLevel: level,
			Ready: func(l, a net.Addr) { ready <- [2]net.Addr{l, a} },
		})
	}()
	var admin string
	select {
	case addrs := <-ready:
		r.gwAddr, admin = addrs[0].String(), addrs[1].String()
		r.gw = "http://" + r.gwAddr
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not start within 10s")
	}
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = fmt.Errorf("Serve did not return within 20s of shutdown")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	testkit.WaitReady(t, admin)
	return stop
}

// armReload reloads the starting configuration until the gateway reports
// it: the gateway subscribes to SIGHUP just after it starts listening, and
// a signal before that reaches only this test's own subscription.
func (r *run) armReload() {
	deadline := time.Now().Add(10 * time.Second)
	for r.logs.count(msgReloaded) == 0 {
		if time.Now().After(deadline) {
			r.t.Fatalf("the gateway did not reload on SIGHUP within 10s; logs:\n%s", r.logs.lastLines())
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
		time.Sleep(100 * time.Millisecond)
	}
	r.reloadOK.Add(1)
}

// probe GETs path (with token, if any) and reports whether the status is
// want; with retry it tries again until it is, for up to 10 seconds. It
// does not stop at the run's deadline, so that every request it sends is
// answered and accounted for.
func (r *run) probe(path string, tk issued, want int, retry bool) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		id := fmt.Sprintf("probe.%d.%s", r.probes.Add(1), tk.sub)
		req, _ := http.NewRequest(http.MethodGet, r.gw+path, nil)
		req.Header.Set("X-Request-Id", id)
		if tk.token != "" {
			req.Header.Set("Authorization", "Bearer "+tk.token)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			r.transportError(id, err)
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r.answered.Add(1)
		if resp.StatusCode >= 500 {
			r.fivexx.Add(1)
			r.wrong.add(wrongAnswer, "%s: GET %s: %d", id, path, resp.StatusCode)
		}
		if resp.StatusCode == want {
			return true
		}
		if !retry {
			r.t.Errorf("GET %s: got %d, want %d", path, resp.StatusCode, want)
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// sleepUntil waits until at or until ctx ends; it reports whether at came.
func sleepUntil(ctx context.Context, at time.Time) bool {
	tm := time.NewTimer(time.Until(at))
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// rotate runs the key rotations of the package comment.
func (r *run) rotate(ctx context.Context) {
	every := r.st.duration / time.Duration(r.st.rotations+1)
	for k := 1; k <= r.st.rotations; k++ {
		if !sleepUntil(ctx, r.start.Add(time.Duration(k)*every)) {
			return
		}
		prev, next := r.rotKeys[k-1], r.rotKeys[k]
		// 1. Publish the next key.
		r.is.SetKeys(r.stable, prev, next)
		// 2. Wait until the gateway knows it.
		t0 := time.Now()
		if !r.probe("/api/probe/rotation", r.rotTokens[k][0], http.StatusOK, true) {
			r.t.Errorf("rotation %d: the gateway did not accept the new key within 10s", k)
			return
		}
		// 3. Switch: no request with the previous key is in flight, or will be.
		t1 := time.Now()
		r.rotMu.Lock()
		r.rotCur = r.rotTokens[k]
		r.rotMu.Unlock()
		if k >= 2 {
			r.retired.Store(&r.rotTokens[k-2])
		}
		// 4. Withdraw the previous key.
		r.is.SetKeys(r.stable, next)
		r.rotations.Add(1)
		r.rotTimes = append(r.rotTimes, fmt.Sprintf("%s+%s", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond)))
	}
}

// reload rewrites the configuration file and sends SIGHUP, in the
// settings' order, and checks after each which configuration serves.
func (r *run) reload(ctx context.Context) {
	every := r.st.duration / time.Duration(len(r.st.reloads)+1)
	active := "A"
	for i, variant := range r.st.reloads {
		if !sleepUntil(ctx, r.start.Add(time.Duration(i+1)*every)) {
			return
		}
		ok, failed := r.logs.count(msgReloaded), r.logs.count(msgReloadFailed)
		r.writeConfig(variant)
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
		for end := time.Now().Add(10 * time.Second); r.logs.count(msgReloaded) == ok && r.logs.count(msgReloadFailed) == failed; {
			if time.Now().After(end) {
				r.t.Errorf("reload %d (variant %s): nothing logged within 10s of SIGHUP", i+1, variant)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		gotOK := r.logs.count(msgReloaded) > ok
		if gotOK {
			r.reloadOK.Add(1)
			active = variant
		} else {
			r.reloadFailed.Add(1)
		}
		if gotOK == (variant == "invalid") {
			r.t.Errorf("reload %d (variant %s): reloaded %v, want %v; logs:\n%s", i+1, variant, gotOK, !gotOK, r.logs.lastLines())
		}
		want := http.StatusNotFound
		if active == "B" {
			want = http.StatusOK
		}
		// One request, no retry: the reload is logged after the swap, so
		// the configuration it names serves from then on.
		if r.probe("/extra/probe", issued{}, want, false) {
			r.extraOK.Add(1)
		} else {
			r.t.Errorf("reload %d (variant %s): /extra did not answer %d under variant %s", i+1, variant, want, active)
		}
	}
}
