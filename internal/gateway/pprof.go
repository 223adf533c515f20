package gateway

import (
	"net/http"
	"net/http/pprof"
)

// mountPprof registers net/http/pprof's handlers under /debug/pprof/ on mux,
// the admin listener's. Importing the package also registers them on
// http.DefaultServeMux, which no listener of the gateway serves: only this
// call makes them reachable.
//
// server.pprof is read once, when the admin listener starts: like the
// listen addresses, a reload does not change it.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, allocs, block, mutex, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
