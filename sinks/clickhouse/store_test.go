package clickhouse

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/relance-io/relance/sinks"
)

// Invalid options are rejected by Open before any network access, with a
// message naming the option and an example of a valid value.
func TestOpen_InvalidOptions(t *testing.T) {
	f := func(want string, opts ...Opt) {
		t.Helper()
		_, err := Open(context.Background(), opts...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open error = %v, want one mentioning %q", err, want)
		}
	}
	f("addr", Addr("localhost"))
	f("HTTP interface", Protocol(ch.HTTP), Addr("localhost"))
	f("protocol", Protocol(ch.Protocol(7)))
	f("database", Database("no-dash"))
	f("database", Database(""))
	f("username", Username(""))
	f("compression", Compression("snappy"))
	f("dial timeout", DialTimeout(0))
	f("max open connections", MaxOpenConns(0))
}

// A server that cannot be reached gives an error that sinks.IsRetryable
// classifies as retryable (the caller retries later), and the password
// never appears in it.
func TestOpen_UnreachableIsRetryableAndHidesPassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens on addr any more: connection refused

	const password = "s3cr3t-Pa55word"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, Addr(addr), Username("relance"), Password(password), DialTimeout(time.Second))
	if err == nil {
		s.Close()
		t.Fatalf("Open(%s) succeeded, want an error: nothing listens there", addr)
	}
	if !sinks.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = false, want true", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error text holds the password: %v", err)
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address %s", err, addr)
	}
}

// The password is scrubbed even from an error whose text would contain it.
func TestWrap_ScrubsPassword(t *testing.T) {
	s := &Store{password: "hunter2"}
	err := s.wrap("open", &net.OpError{Op: "dial", Net: "tcp", Err: errString("auth hunter2 refused")})
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("password not scrubbed: %v", err)
	}
	if !sinks.IsRetryable(err) {
		t.Errorf("a scrubbed network error must stay retryable: %v", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
