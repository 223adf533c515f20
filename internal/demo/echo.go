package demo

import (
	"encoding/json"
	"net"
	"net/http"
	"time"
)

// Echoed is what the echo upstream answers: the request as it arrived.
type Echoed struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	RawPath string              `json:"raw_path,omitempty"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
}

// Echo is an upstream that answers every request with a JSON Echoed.
type Echo struct {
	URL string
	srv *http.Server
}

// NewEcho starts an echo upstream on addr (e.g. "127.0.0.1:0").
func NewEcho(addr string) (*Echo, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	e := &Echo{URL: "http://" + ln.Addr().String()}
	e.srv = &http.Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// Close stops the upstream.
func (e *Echo) Close() error { return e.srv.Close() }

func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(Echoed{
		Method:  r.Method,
		Path:    r.URL.Path,
		RawPath: r.URL.RawPath,
		Query:   r.URL.RawQuery,
		Host:    r.Host,
		Headers: r.Header,
	})
}
