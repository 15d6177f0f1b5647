package chdb

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/relance-io/relance/sinks"
)

// The JSONEachRow encoding of the row structs of package sinks: one JSON
// object per row, keys the `ch` tags. Integers are JSON numbers (Int64 and
// UInt64 are exact: ClickHouse parses them as integers, never as floats),
// time.Time is "2006-01-02 15:04:05.000" in UTC (DateTime64(3)) or
// "2006-01-02" when tagged `chtype:"Date"`, map[string]string is a JSON
// object with sorted keys, strings keep their bytes (only '"', '\' and
// control characters are escaped).

type fieldKind uint8

const (
	kString fieldKind = iota
	kInt
	kUint
	kBool
	kDateTime
	kDate
	kStringMap
)

type field struct {
	key   []byte // `"name":`
	index int
	kind  fieldKind
}

var (
	plans    sync.Map // reflect.Type → []field
	timeType = reflect.TypeOf(time.Time{})
	mapType  = reflect.TypeOf(map[string]string(nil))
)

func planOf(t reflect.Type) ([]field, error) {
	if p, ok := plans.Load(t); ok {
		return p.([]field), nil
	}
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := sf.Tag.Get("ch")
		if name == "" || name == "-" {
			continue
		}
		key, _ := json.Marshal(name)
		f := field{key: append(key, ':'), index: i}
		switch {
		case sf.Type == timeType && sf.Tag.Get("chtype") == "Date":
			f.kind = kDate
		case sf.Type == timeType:
			f.kind = kDateTime
		case sf.Type == mapType:
			f.kind = kStringMap
		default:
			switch sf.Type.Kind() {
			case reflect.String:
				f.kind = kString
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				f.kind = kInt
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				f.kind = kUint
			case reflect.Bool:
				f.kind = kBool
			default:
				return nil, fmt.Errorf("%s.%s: type %s has no JSONEachRow encoding", t, sf.Name, sf.Type)
			}
		}
		fs = append(fs, f)
	}
	plans.Store(t, fs)
	return fs, nil
}

// appendJSONRow appends row (a pointer to a row struct) as one JSON object.
func appendJSONRow(dst []byte, row any) ([]byte, error) {
	v := reflect.ValueOf(row)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("row %T: want a pointer to a row struct", row)
	}
	v = v.Elem()
	plan, err := planOf(v.Type())
	if err != nil {
		return nil, err
	}
	dst = append(dst, '{')
	for i, f := range plan {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		fv := v.Field(f.index)
		switch f.kind {
		case kString:
			dst = appendString(dst, fv.String())
		case kInt:
			dst = strconv.AppendInt(dst, fv.Int(), 10)
		case kUint:
			dst = strconv.AppendUint(dst, fv.Uint(), 10)
		case kBool:
			if fv.Bool() {
				dst = append(dst, '1')
			} else {
				dst = append(dst, '0')
			}
		case kDateTime:
			dst = append(dst, '"')
			dst = fv.Interface().(time.Time).UTC().AppendFormat(dst, sinks.DateTime64Layout)
			dst = append(dst, '"')
		case kDate:
			dst = append(dst, '"')
			dst = fv.Interface().(time.Time).UTC().AppendFormat(dst, sinks.DateLayout)
			dst = append(dst, '"')
		case kStringMap:
			dst = appendStringMap(dst, fv.Interface().(map[string]string))
		}
	}
	return append(dst, '}'), nil
}

func appendStringMap(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Bytes are kept as they are
// (ClickHouse's String is bytes), except '"', '\' and control characters,
// which are escaped, and U+2028/U+2029, escaped for safety.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == '\u2028' || r == '\u2029' {
				dst = append(dst, `\u202`...)
				dst = append(dst, hexDigits[r&0xf])
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
