package main

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relance-io/relance/generate"
	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/sinks/chdb/chdbtest"
	"github.com/relance-io/relance/sinks/clickhouse/chfront"
)

// Rule: store.clickhouse.compression and store.clickhouse.async_insert
// reach the server. The default asks for LZ4 blocks and synchronous
// inserts; zstd asks for ZSTD; none asks for no compression; async_insert
// makes every INSERT carry async_insert=1 with wait_for_async_insert=1, and
// the rows are readable as soon as Write returns.
func TestOpenStore_CompressionAndAsyncInsertReachTheServer(t *testing.T) {
	store := chdbtest.NewStore(t)
	front := chfront.Start(t, store)
	p := generate.DefaultParams()
	p.Customers, p.Months, p.Seed = 5, 2, 5
	p.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds, err := generate.Generate(p)
	if err != nil || len(ds.Invoices) == 0 {
		t.Fatalf("generate: %d invoices, %v", len(ds.Invoices), err)
	}
	for _, tc := range []struct {
		compression string
		async       bool
		wantMethod  string // network_compression_method asked, "" for none
	}{
		{"", false, "LZ4"},
		{"zstd", true, "ZSTD"},
		{"none", false, ""},
	} {
		var (
			mu      sync.Mutex
			queries []url.Values
		)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			queries = append(queries, r.URL.Query())
			mu.Unlock()
			front.ServeHTTP(w, r)
		}))
		sc := StoreConfig{ClickHouse: ClickHouseConfig{Addr: strings.TrimPrefix(proxy.URL, "http://"), Protocol: "http",
			Database: store.Database(), Compression: tc.compression, AsyncInsert: tc.async}}
		s, err := openStore(context.Background(), sc)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if _, err := s.Query(context.Background(), "TRUNCATE TABLE invoices"); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), &sinks.Batch{Invoices: ds.Invoices}); err != nil {
			t.Fatalf("%+v: write: %v", tc, err)
		}
		rows, err := s.Query(context.Background(), "SELECT count() FROM invoices FINAL")
		if err != nil || rows.Data[0][0] != itoa(len(ds.Invoices)) {
			t.Fatalf("%+v: %v invoices (%v), want %d", tc, rows, err, len(ds.Invoices))
		}
		s.Close()
		proxy.Close()

		inserts := 0
		for _, q := range queries {
			if m := q.Get("network_compression_method"); m != tc.wantMethod || (q.Get("compress") == "1") != (tc.wantMethod != "") {
				t.Errorf("%+v: a request asked for compression %q (compress=%q)", tc, m, q.Get("compress"))
			}
			if !strings.HasPrefix(strings.ToUpper(q.Get("query")), "INSERT") {
				continue
			}
			inserts++
			if async := q.Get("async_insert") == "1" && q.Get("wait_for_async_insert") == "1"; async != tc.async {
				t.Errorf("%+v: an INSERT with async_insert=%q wait_for_async_insert=%q", tc, q.Get("async_insert"), q.Get("wait_for_async_insert"))
			}
		}
		if inserts == 0 {
			t.Fatalf("%+v: no INSERT went through the proxy", tc)
		}
	}
}

// Rule: migrate, query and report take relance run's configuration file
// (--config or RELANCE_CONFIG): its store section — protocol, TLS with a
// CA, credentials — with the flags given explicitly on top; without a
// store in either, the error says where to put one.
func TestStoreFlags_ConfigFileThenFlags(t *testing.T) {
	ca := writeFile(t, "ca.pem", "")
	cfg := writeFile(t, "relance.yaml", "store: {clickhouse: {addr: 'ch:8443', protocol: http, database: kpis, user: reader, tls: {enabled: true, ca_file: '"+ca+"'}}}\n")
	parse := func(args ...string) *storeFlags {
		t.Helper()
		fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
		var sf storeFlags
		sf.register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &sf
	}
	sc, err := parse("--config", cfg).configured()
	if err != nil {
		t.Fatal(err)
	}
	if ch := sc.ClickHouse; ch.Addr != "ch:8443" || ch.Protocol != "http" || ch.Database != "kpis" || ch.User != "reader" || !ch.TLS.Enabled || ch.TLS.CAFile != ca {
		t.Errorf("from the file: %+v", ch)
	}
	sc, err = parse("--config", cfg, "--database", "other").configured()
	if err != nil || sc.ClickHouse.Database != "other" || sc.ClickHouse.Addr != "ch:8443" {
		t.Errorf("--database over the file: %+v, %v", sc.ClickHouse, err)
	}
	sc, err = parse("--config", cfg, "--chdb-dir", "d").configured()
	if err != nil || sc.ChDBDir != "d" || sc.ClickHouse.Addr != "" {
		t.Errorf("--chdb-dir over the file: %+v, %v", sc, err)
	}
	t.Setenv("RELANCE_CONFIG", writeFile(t, "empty.yaml", "log: {level: info}\n"))
	if _, err := parse().configured(); err == nil || !strings.Contains(err.Error(), "no store: set store.chdb_dir or store.clickhouse.addr") {
		t.Errorf("a configuration without a store: %v", err)
	}
}
