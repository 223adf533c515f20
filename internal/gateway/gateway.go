package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/authgate/authgate/internal/config"
	"github.com/authgate/authgate/internal/logging"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/proxy"
)

// Options configure Serve.
type Options struct {
	// Config is the configuration to start with.
	Config *config.Config
	// Reload, if set, loads the configuration again on SIGHUP.
	Reload func() (*config.Config, error)
	// Logger receives every log line; LogLevel, if set, is updated on reload.
	Logger   *slog.Logger
	LogLevel *slog.LevelVar
	// Ready, if set, is called with the bound addresses once both listeners
	// accept connections (the demo and tests use it).
	Ready func(listen, admin net.Addr)
	// Now is the clock of every runtime's key caches and verifiers
	// (Deps.Now). Nil: time.Now; tests pass one they advance.
	Now func() time.Time
	// Version is the version label of authgate_build_info, as `authgate
	// version` prints it; "" reads as "dev".
	Version string
}

// Gateway serves the current Runtime and swaps in new ones atomically.
// In-flight requests finish on the runtime they started on.
type Gateway struct {
	current  atomic.Pointer[Runtime]
	stopping atomic.Bool
	logger   *slog.Logger
	// deps are passed to every Build, so reloads share them.
	deps Deps

	// ctx bounds the background jobs; running maps each running job to
	// the cancel function of its Run.
	ctx     context.Context
	mu      sync.Mutex
	running map[*job]context.CancelFunc
	wg      sync.WaitGroup
}

// ServeHTTP hands the request to the current runtime's handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.current.Load().Handler.ServeHTTP(w, r)
}

// swap installs rt: it starts the jobs rt lists that are not running yet,
// leaves running those it shares with the runtime it replaces, and stops
// the others, whatever kind of runner they hold. Requests in flight on the
// old runtime finish there; a retired runner stops refreshing but still
// serves them (Runner). The shared upstream transport is left alone.
func (g *Gateway) swap(rt *Runtime) {
	g.mu.Lock()
	defer g.mu.Unlock()
	keep := make(map[*job]bool, len(rt.jobs))
	for _, j := range rt.jobs {
		keep[j] = true
		if _, running := g.running[j]; running {
			continue
		}
		ctx, cancel := context.WithCancel(g.ctx)
		g.running[j] = cancel
		g.wg.Go(func() {
			if err := j.runner.Run(ctx); err != nil {
				g.logger.Error(j.what+" stopped", "err", err)
			}
		})
	}
	for j, cancel := range g.running {
		if !keep[j] {
			cancel()
			delete(g.running, j)
		}
	}
	g.current.Store(rt)
	if g.deps.Metrics != nil && rt.metrics != nil {
		g.deps.Metrics.Retain(rt.metrics)
	}
	if g.deps.Metrics != nil {
		// The new runtime's verified-token cache starts empty.
		g.deps.Metrics.SetVerifyCacheEntries(rt.verifyCache.Len())
	}
}

// Serve runs the gateway until ctx ends or SIGTERM/SIGINT arrives, then
// shuts down gracefully within the configured shutdown timeout (docs/reference.md §5).
// It returns nil after a clean shutdown.
func Serve(ctx context.Context, o Options) error {
	cfg := o.Config
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// One upstream transport for the life of the process: every runtime
	// forwards through it, so a reload keeps the pooled connections.
	transport := proxy.NewTransport()
	defer transport.CloseIdleConnections()
	version := o.Version
	if version == "" {
		version = "dev"
	}
	// One registry for the life of the process, as the transport.
	deps := Deps{Logger: logger, Transport: transport, Now: o.Now, Metrics: metrics.New(version)}
	rt, err := Build(cfg, nil, deps)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	jobCtx, stopJobs := context.WithCancel(context.Background())
	defer stopJobs()
	g := &Gateway{logger: logger, deps: deps, ctx: jobCtx, running: map[*job]context.CancelFunc{}}

	// Bind before anything else so that the gateway "listens at once"; keys
	// arrive in the background.
	mainLn, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return &ListenError{Addr: cfg.Server.Listen, Setting: cfg.SetBy("server.listen"), Err: err}
	}
	var adminLn net.Listener
	if addr := cfg.Server.AdminAddr(); addr != "" {
		if adminLn, err = net.Listen("tcp", addr); err != nil {
			mainLn.Close()
			return &ListenError{Admin: true, Addr: addr, Setting: cfg.SetBy("server.admin_listen"), Err: err}
		}
	}
	g.swap(rt)

	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	// The proxy's framing and upgrade rules (docs/reference.md §3.1, §3.5) rely on
	// this being net/http's own server: a handler's "Connection: close"
	// makes it close the connection after the response without reading
	// anything more from it, which is how the gateway refuses to read a
	// request behind one with Transfer-Encoding, behind an HTTP/1.0 one or
	// behind an upgrade attempt. Leaving Protocols nil keeps unencrypted
	// HTTP/2 (h2c) off, so every plain-text connection is HTTP/1 and meets
	// those rules. TestServeClosesAmbiguousFraming checks this setup end to
	// end.
	mainSrv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          errLog,
	}
	servers := []*http.Server{mainSrv}
	tls := cfg.Server.TLS
	eg, egCtx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		if tls.CertFile != "" {
			err = mainSrv.ServeTLS(mainLn, tls.CertFile, tls.KeyFile)
		} else {
			err = mainSrv.Serve(mainLn)
		}
		return serveErr("listener", err)
	})
	var adminAddr net.Addr
	if adminLn != nil {
		adminSrv := &http.Server{
			Handler:           g.adminHandler(),
			ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
			ErrorLog:          errLog,
		}
		servers = append(servers, adminSrv)
		adminAddr = adminLn.Addr()
		eg.Go(func() error { return serveErr("admin listener", adminSrv.Serve(adminLn)) })
	}
	var hup chan os.Signal
	if o.Reload != nil {
		// Subscribed before anyone can learn the addresses: a SIGHUP that
		// arrived before it (a config reloader starting alongside) would
		// take the default action and kill the process.
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	logger.Info("authgate listening", "listen", mainLn.Addr().String(), "admin", addrString(adminAddr),
		"routes", len(cfg.Routes), "issuers", len(cfg.Issuers), "config", cfg.Source)
	if o.Ready != nil {
		o.Ready(mainLn.Addr(), adminAddr)
	}

	if hup != nil {
		eg.Go(func() error { g.reloadOnHangup(egCtx, hup, o.Reload, o.LogLevel); return nil })
	}
	eg.Go(func() error {
		<-egCtx.Done()
		// Not ready at once, so load balancers stop sending new requests
		// while in-flight ones finish.
		g.stopping.Store(true)
		timeout := g.current.Load().Config.Server.ShutdownTimeout
		logger.Info("shutting down", "timeout", timeout.String())
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		// The main listener drains first; the admin listener stays up
		// meanwhile so probes see 503 rather than a refused connection.
		var errs []error
		for _, s := range servers {
			if err := s.Shutdown(sctx); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	err = eg.Wait()
	stopJobs()
	g.wg.Wait()
	if err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

func serveErr(what string, err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func addrString(a net.Addr) string {
	if a == nil {
		return "disabled"
	}
	return a.String()
}

// reloadOnHangup rebuilds the runtime on every SIGHUP. A configuration that
// fails to load or compile is logged and the old runtime keeps serving.
func (g *Gateway) reloadOnHangup(ctx context.Context, hup <-chan os.Signal, load func() (*config.Config, error), level *slog.LevelVar) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			g.reload(load, level)
		}
	}
}

func (g *Gateway) reload(load func() (*config.Config, error), level *slog.LevelVar) {
	cfg, err := load()
	if err == nil {
		var rt *Runtime
		if rt, err = Build(cfg, g.current.Load(), g.deps); err == nil {
			old := g.current.Load().Config
			if cfg.Server.Listen != old.Server.Listen || cfg.Server.AdminAddr() != old.Server.AdminAddr() {
				g.logger.Warn("listen addresses changed; they take effect on restart")
			}
			g.swap(rt)
			if level != nil {
				if lv, lerr := logging.ParseLevel(cfg.Log.Level); lerr == nil {
					level.Set(lv)
				}
			}
			g.deps.Metrics.Reloaded(true)
			g.logger.Info("configuration reloaded", "config", cfg.Source, "routes", len(cfg.Routes))
			return
		}
	}
	g.deps.Metrics.Reloaded(false)
	if m, cur := g.deps.Metrics, g.current.Load().metrics; m != nil && cur != nil {
		// A Build that failed late may have resolved series for routes
		// and issuers that never served; drop them.
		m.Retain(cur)
	}
	g.logger.Error("configuration reload failed; the previous configuration keeps serving", "err", err)
}

// adminHandler serves /healthz, /readyz and /metrics (docs/reference.md §4), and
// /debug/pprof/ when server.pprof is set at start.
func (g *Gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	if g.deps.Metrics != nil {
		mux.Handle("GET /metrics", g.deps.Metrics.Handler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if g.stopping.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "shutting down"})
			return
		}
		if missing := g.current.Load().notReady(); len(missing) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "not_ready": missing})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
	if g.current.Load().Config.Server.Pprof {
		mountPprof(mux)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var _ http.Handler = (*Gateway)(nil)
