package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/relance-io/relance/sinks"
	"github.com/relance-io/relance/stream"
)

// Rule: --dpd-edges takes whole days, strictly ascending; anything else is
// refused with the flag, the value and an example.
func TestParseDPDEdges(t *testing.T) {
	got, err := parseDPDEdges("0, 15,45")
	if err != nil || !reflect.DeepEqual(got, []int{0, 15, 45}) {
		t.Fatalf("parseDPDEdges(\"0, 15,45\") = %v, %v; want [0 15 45]", got, err)
	}
	for in, want := range map[string]string{
		"0,30,x":   `"x" is not a whole number of days`,
		"0,30,30":  "strictly ascending",
		"30,0":     "strictly ascending",
		"":         "not a whole number",
		"0,1.5,30": `"1.5" is not a whole number`,
	} {
		_, err := parseDPDEdges(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--dpd-edges") || !strings.Contains(err.Error(), "e.g. 0,30,60,90") {
			t.Errorf("parseDPDEdges(%q) = %v; want an error about --dpd-edges saying %q with an example", in, err, want)
		}
	}
}

// Rule: `relance report` for horizons the store holds no outcome for is
// refused with the horizons it holds, instead of a report of zeros; for
// those it holds, it is written.
func TestReport_HorizonsMustBeInTheStore(t *testing.T) {
	hs, _ := stream.ParseHorizons("5d,45d")
	s := octoberStore(t, hs)
	prev := openReportStore
	openReportStore = func(context.Context, *storeFlags) (sinks.Store, error) { return keepOpen{s}, nil }
	t.Cleanup(func() { openReportStore = prev })
	out := filepath.Join(t.TempDir(), "r.html")
	var stdout bytes.Buffer
	err := cmdReport(context.Background(), []string{"--chdb-dir", "unused", "--out", out}, &stdout)
	if want := "--horizon 7d,15d,30d: the store holds no outcome for 7d; it holds 5d, 45d (e.g. --horizon 5d,45d)"; err == nil || err.Error() != want {
		t.Fatalf("report with the default horizons: %v, want %q", err, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused report was written: %v", err)
	}
	if err := cmdReport(context.Background(), []string{"--chdb-dir", "unused", "--out", out, "--horizon", "120h,45d", "--lang", "en"}, &stdout); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(html), "62.5") {
		t.Fatalf("report for 5d (as 120h), 45d: %v; want October's 62.5 %% in it", err)
	}
}
