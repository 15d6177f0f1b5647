package chfront

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relance-io/relance/sinks/chdb/chdbtest"
)

func TestMain(m *testing.M) { chdbtest.Main(m) }

func post(t *testing.T, f *Front, params url.Values, body []byte) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Post("http://"+f.Addr+"/?"+params.Encode(), "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// An engine error is answered as a server answers it: HTTP 500, the code in
// X-ClickHouse-Exception-Code, the "Code: N. DB::Exception" text in the
// body; an unknown database is code 81, which clickhouse.Open relies on.
func TestFront_ErrorsLikeAServer(t *testing.T) {
	s := chdbtest.NewStore(t)
	front := Start(t, s)
	f := func(params url.Values, stmt, code string) {
		t.Helper()
		res, body := post(t, front, params, []byte(stmt))
		if res.StatusCode != http.StatusInternalServerError || res.Header.Get("X-ClickHouse-Exception-Code") != code ||
			!strings.HasPrefix(string(body), "Code: "+code+". DB::Exception") {
			t.Errorf("%s: %d %q %q, want 500 with code %s", stmt, res.StatusCode, res.Header.Get("X-ClickHouse-Exception-Code"), body, code)
		}
	}
	f(url.Values{"database": {s.Database()}}, "SELECT * FROM no_such_table", "60")
	f(url.Values{"database": {"no_such_db"}}, "SELECT 1", "81")
	// The store's current database is given back after every request.
	rows, err := s.Query(t.Context(), "SELECT currentDatabase()")
	if err != nil || rows.Data[0][0] != s.Database() {
		t.Errorf("current database after requests = %v (%v), want %s", rows, err, s.Database())
	}
}

// A compressed response is a sequence of ClickHouse compressed frames that
// decompress to the Native output, and a compressed body is read back.
func TestFront_CompressedFramesRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("relance native block "), 200_000) // > frameSize: several frames
	for _, m := range []string{"LZ4", "ZSTD"} {
		framed, err := compress(data, m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decompress(framed)
		if err != nil || !bytes.Equal(back, data) {
			t.Errorf("%s: round trip lost data (%d → %d → %d bytes, %v)", m, len(data), len(framed), len(back), err)
		}
	}
}
