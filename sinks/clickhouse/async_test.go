package clickhouse

import (
	"reflect"
	"strings"
	"testing"
)

// Rule: with AsyncInsert every INSERT asks the server for an asynchronous
// insert that waits for its flush (async_insert=1, wait_for_async_insert=1),
// and Write returns with the rows readable: the same rows as the chDB sink.
func TestHTTP_AsyncInsertWaitsForTheRows(t *testing.T) {
	p := newPair(t, AsyncInsert(true))
	b := edgeBatch()
	p.write(t, b)
	for _, table := range tables {
		if got, want := p.finalRows(t, p.httpDB, table), p.finalRows(t, p.embDB, table); !reflect.DeepEqual(got, want) {
			t.Errorf("%s differs with async insert:\n chDB: %v\n HTTP: %v", table, want, got)
		}
	}
	sent := strings.Join(p.front.Statements(), "\n")
	if !strings.Contains(sent, "async_insert") || !strings.Contains(sent, "wait_for_async_insert") {
		t.Fatalf("the inserts did not carry async_insert and wait_for_async_insert:\n%s", sent)
	}
}
