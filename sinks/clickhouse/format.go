package clickhouse

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/relance-io/relance/sinks"
)

// newScanDest returns a pointer to a new value of the driver's scan type.
func newScanDest(t reflect.Type) any { return reflect.New(t).Interface() }

// format renders a scanned value (a pointer from newScanDest) as ClickHouse
// prints it in its JSON formats, so that the two stores return the same
// strings (see sinks.Rows): integers exact, Date "2006-01-02", DateTime64(p)
// with p fractional digits, DateTime without, in the column's time zone,
// Bool "true"/"false", NULL "NULL", Decimal without trailing zeros, and
// arrays, maps and tuples as JSON text.
func format(dest any, chType string) string {
	v := reflect.ValueOf(dest)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "NULL"
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return formatTime(x, chType)
	case big.Int:
		return x.String()
	case net.IP:
		return x.String()
	case float32:
		return formatFloat(float64(x), 32)
	case float64:
		return formatFloat(x, 64)
	case fmt.Stringer: // decimal.Decimal, uuid.UUID, …
		return x.String()
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.String:
		return v.String()
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}

func formatTime(t time.Time, chType string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(chType, "Nullable("), ")")
	inner = strings.TrimSuffix(strings.TrimPrefix(inner, "LowCardinality("), ")")
	switch {
	case strings.HasPrefix(inner, "Date32"), inner == "Date":
		return t.Format(sinks.DateLayout)
	case strings.HasPrefix(inner, "DateTime64("):
		p := 3
		if args := strings.TrimPrefix(inner, "DateTime64("); len(args) > 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(strings.TrimSuffix(args, ")"), ",", 2)[0])); err == nil {
				p = n
			}
		}
		layout := "2006-01-02 15:04:05"
		if p > 0 {
			layout += "." + strings.Repeat("0", p)
		}
		return t.Format(layout)
	default:
		return t.Format("2006-01-02 15:04:05")
	}
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}
