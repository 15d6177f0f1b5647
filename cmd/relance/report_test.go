package main

import (
	"reflect"
	"strings"
	"testing"
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
