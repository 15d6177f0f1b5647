package chdb

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/relance-io/relance/schemas"
	"github.com/relance-io/relance/sinks"
)

// Rule: the dashboards' relance_minor_per_unit (migration 0013) and
// schemas.MinorDigits, which the console, the report and the CSV import
// use, agree on every ISO 4217 code relance accepts: an amount shows the
// same everywhere.
func TestMinorPerUnit_AgreesWithMinorDigits(t *testing.T) {
	s := migrated(t)
	var codes []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				if code := string([]rune{a, b, c}); schemas.KnownCurrency(code) {
					codes = append(codes, "'"+code+"'")
				}
			}
		}
	}
	rows, err := s.Query(context.Background(), "SELECT c, relance_minor_per_unit(c) FROM (SELECT arrayJoin(["+strings.Join(codes, ",")+"]) AS c)")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != len(codes) || len(codes) < 150 {
		t.Fatalf("%d rows for %d known codes", rows.Len(), len(codes))
	}
	zero, three := 0, 0
	for _, r := range rows.Data {
		d := schemas.MinorDigits(r[0])
		if want := strconv.Itoa(int(math.Pow10(d))); r[1] != want {
			t.Errorf("relance_minor_per_unit(%s) = %s, schemas.MinorDigits says %d decimals (%s)", r[0], r[1], d, want)
		}
		switch d {
		case 0:
			zero++
		case 3:
			three++
		}
	}
	if zero == 0 || three == 0 {
		t.Errorf("%d codes without decimals, %d with three: the lists are not exercised", zero, three)
	}
}

// Rule: a store migrated without --cluster says so (no cluster), before
// and after its migrations, and names its database.
func TestMigratedCluster_SingleServer(t *testing.T) {
	s := migrated(t)
	cluster, database, err := sinks.MigratedCluster(context.Background(), s)
	if err != nil || cluster != "" || database == "" {
		t.Errorf("MigratedCluster = %q, %q, %v; want no cluster and the database", cluster, database, err)
	}
}
