package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relance-io/relance/sinks"
)

// opsServer serves the operations endpoints:
//
//	/metrics  Prometheus metrics (relance_* plus Go and process collectors)
//	/healthz  liveness: the process answers
//	/readyz   readiness: partitions assigned and their state restored, the
//	          last write succeeded, Kafka answering (not failing for 30 s),
//	          and the store answers SELECT 1; the body says why not
type opsServer struct {
	srv *http.Server
	ln  net.Listener
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// go_build_info says which build runs (module path, version, checksum).
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	return reg
}

func startOps(addr string, reg *prometheus.Registry, status func() (bool, string), store sinks.Store, log *slog.Logger) (*opsServer, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if ok, why := status(); !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := store.Query(ctx, "SELECT 1"); err != nil {
			http.Error(w, "not ready: the store does not answer", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &opsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("ops endpoint stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is where the server listens (useful with port 0).
func (s *opsServer) Addr() string { return s.ln.Addr().String() }

func (s *opsServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
