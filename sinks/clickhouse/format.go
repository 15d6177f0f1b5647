package clickhouse

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net"
	"reflect"
	"sort"
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
// arrays and maps as ClickHouse's JSON text (see appendJSON).
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
	switch v.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return string(appendJSON(nil, v, chType))
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}

// appendJSON appends v, a value of ClickHouse type chType inside an array or
// a map, as ClickHouse's JSON formats print it (defaults of the
// output_format_json_* settings): numbers and decimals bare (64-bit
// integers too), NaN and infinities null, strings with '/'
// escaped, dates and times quoted. Map keys come out sorted: the driver
// scans a Map into a Go map, which has lost the stored order (both sinks
// store maps with sorted keys).
func appendJSON(dst []byte, v reflect.Value, chType string) []byte {
	inner := unwrap(chType)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return append(dst, "null"...)
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return appendJSONString(dst, formatTime(x, inner))
	case big.Int:
		return append(dst, x.String()...)
	case net.IP:
		return appendJSONString(dst, x.String())
	case string:
		return appendJSONString(dst, x)
	case fmt.Stringer: // decimal.Decimal, uuid.UUID, …
		if strings.HasPrefix(inner, "Decimal") {
			return append(dst, x.String()...)
		}
		return appendJSONString(dst, x.String())
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(dst, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		bits := 64
		if v.Kind() == reflect.Float32 {
			bits = 32
		}
		return append(dst, formatFloat(f, bits)...)
	case reflect.String:
		return appendJSONString(dst, v.String())
	case reflect.Slice, reflect.Array:
		elem := typeArgs(inner, "Array(")
		dst = append(dst, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, v.Index(i), elem)
		}
		return append(dst, ']')
	case reflect.Map:
		kv := splitTypeArgs(typeArgs(inner, "Map("))
		kt, vt := "", ""
		if len(kv) == 2 {
			kt, vt = kv[0], kv[1]
		}
		keys := v.MapKeys()
		texts := make([]string, len(keys))
		for i, k := range keys {
			texts[i] = format(k.Interface(), kt)
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return texts[order[a]] < texts[order[b]] })
		dst = append(dst, '{')
		for n, i := range order {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, texts[i])
			dst = append(dst, ':')
			dst = appendJSON(dst, v.MapIndex(keys[i]), vt)
		}
		return append(dst, '}')
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return appendJSONString(dst, fmt.Sprint(v.Interface()))
	}
	return append(dst, b...)
}

// appendJSONString appends s as ClickHouse writes a JSON string: '"', '\'
// and '/' escaped, control characters as \b \f \n \r \t or \u00XX, other
// bytes as they are.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '/':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

// unwrap strips Nullable(…) and LowCardinality(…) from a type name.
func unwrap(t string) string {
	for {
		switch {
		case strings.HasPrefix(t, "Nullable(") && strings.HasSuffix(t, ")"):
			t = t[len("Nullable(") : len(t)-1]
		case strings.HasPrefix(t, "LowCardinality(") && strings.HasSuffix(t, ")"):
			t = t[len("LowCardinality(") : len(t)-1]
		default:
			return t
		}
	}
}

// typeArgs returns the text between "Prefix(" and the last ')' of t, or "".
func typeArgs(t, prefix string) string {
	if strings.HasPrefix(t, prefix) && strings.HasSuffix(t, ")") {
		return t[len(prefix) : len(t)-1]
	}
	return ""
}

// splitTypeArgs splits "K, V" at top-level commas.
func splitTypeArgs(s string) []string {
	var out []string
	depth, quote, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quote = !quote
		case quote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
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
