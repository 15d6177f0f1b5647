package chdb

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/relance-io/relance/sinks"
)

// The RowBinary encoding of the row structs of package sinks, in which
// Store.Write hands rows to the engine: the fields of a row one after the
// other in the order of the `ch` tags (the INSERT column list), as the
// types of structureOf declare them. It replaced JSONEachRow, whose
// building and parsing (keys looked up per field, numbers and times parsed
// from text) were most of the end-to-end cost of the pipeline.
//
// Strings are their length (unsigned LEB128) and bytes, integers little
// endian of their Go size, booleans one byte 0 or 1, time.Time the Unix
// milliseconds of DateTime64(3, 'UTC') as an Int64 or, when tagged
// `chtype:"Date"`, the days since 1970-01-01 of its UTC date as the Int32 of
// a Date32 (converted to the column's Date by the INSERT … SELECT, as the
// text form would be), map[string]string its length then key and value of
// each entry with the keys sorted (retries send identical rows, and both
// sinks store the same map). Values are exact: no number or time goes
// through text.

type fieldKind uint8

const (
	kString fieldKind = iota
	kInt8
	kInt16
	kInt32
	kInt64
	kUint8
	kUint16
	kUint32
	kUint64
	kBool
	kDateTime
	kDate
	kStringMap
)

// field is one column of a row struct: where it is and how to write it.
// Fields are read through their offset in the struct rather than through
// reflect.Value, which cost more than the encoding itself.
type field struct {
	name   string
	offset uintptr
	kind   fieldKind
}

var (
	plans    sync.Map // reflect.Type → []field
	timeType = reflect.TypeFor[time.Time]()
	mapType  = reflect.TypeFor[map[string]string]()
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
		f := field{name: name, offset: sf.Offset}
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
			case reflect.Int8:
				f.kind = kInt8
			case reflect.Int16:
				f.kind = kInt16
			case reflect.Int32:
				f.kind = kInt32
			case reflect.Int64:
				f.kind = kInt64
			case reflect.Uint8:
				f.kind = kUint8
			case reflect.Uint16:
				f.kind = kUint16
			case reflect.Uint32:
				f.kind = kUint32
			case reflect.Uint64:
				f.kind = kUint64
			case reflect.Bool:
				f.kind = kBool
			default:
				return nil, fmt.Errorf("%s.%s: type %s has no RowBinary encoding", t, sf.Name, sf.Type)
			}
		}
		fs = append(fs, f)
	}
	plans.Store(t, fs)
	return fs, nil
}

// inputTypes are the types the data is read as (see Store.Write): those of
// the Go fields, strings as String even where the column is
// LowCardinality(String).
var inputTypes = [...]string{
	kString:    "String",
	kInt8:      "Int8",
	kInt16:     "Int16",
	kInt32:     "Int32",
	kInt64:     "Int64",
	kUint8:     "UInt8",
	kUint16:    "UInt16",
	kUint32:    "UInt32",
	kUint64:    "UInt64",
	kBool:      "UInt8",
	kDateTime:  "DateTime64(3, 'UTC')",
	kDate:      "Date32",
	kStringMap: "Map(String, String)",
}

// structureOf returns the structure the rows of t, of the type of row, are
// read with, "`a` String, `b` Int32, …", checking that the row struct's
// fields are t's columns in order.
func structureOf(t *sinks.Table, row any) (string, error) {
	rt := reflect.TypeOf(row)
	if rt.Kind() != reflect.Pointer || rt.Elem().Kind() != reflect.Struct {
		return "", fmt.Errorf("row %T: want a pointer to a row struct", row)
	}
	plan, err := planOf(rt.Elem())
	if err != nil {
		return "", err
	}
	if len(plan) != len(t.Columns) {
		return "", fmt.Errorf("table %s: %d columns, %d fields", t.Name, len(t.Columns), len(plan))
	}
	var b []byte
	for i, f := range plan {
		if f.name != t.Columns[i] {
			return "", fmt.Errorf("table %s: column %d is %s, field is %s", t.Name, i, t.Columns[i], f.name)
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '`')
		b = append(b, f.name...)
		b = append(b, "` "...)
		b = append(b, inputTypes[f.kind]...)
	}
	return string(b), nil
}

// rowEncoder appends rows of one table. It keeps the plan of the row type
// and scratch space, so that encoding a row allocates nothing.
type rowEncoder struct {
	buf  []byte // for the caller: where rows are encoded, reused
	typ  reflect.Type
	plan []field
	keys []string
	// maps are where the last few maps were encoded in the buffer: facts
	// and outcomes share their reminder's attribute map (the joiner interns
	// them), so that the same map comes back row after row. The batch is
	// not modified while it is written: a map's address stands for its
	// content for the duration of a Write.
	maps [16]encodedMap
	next int
}

type encodedMap struct {
	m          unsafe.Pointer
	start, end int
}

// reset forgets the encoded maps: the buffer they point into is reused.
func (e *rowEncoder) reset() { e.maps, e.next = [len(e.maps)]encodedMap{}, 0 }

// appendRow appends row (a pointer to a row struct).
func (e *rowEncoder) appendRow(dst []byte, row any) ([]byte, error) {
	v := reflect.ValueOf(row)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("row %T: want a pointer to a row struct", row)
	}
	if t := v.Type().Elem(); t != e.typ {
		plan, err := planOf(t)
		if err != nil {
			return nil, err
		}
		e.typ, e.plan = t, plan
	}
	base := v.UnsafePointer()
	for _, f := range e.plan {
		p := unsafe.Add(base, f.offset)
		switch f.kind {
		case kString:
			s := *(*string)(p)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		case kInt8, kUint8:
			dst = append(dst, *(*uint8)(p))
		case kInt16, kUint16:
			dst = binary.LittleEndian.AppendUint16(dst, *(*uint16)(p))
		case kInt32, kUint32:
			dst = binary.LittleEndian.AppendUint32(dst, *(*uint32)(p))
		case kInt64, kUint64:
			dst = binary.LittleEndian.AppendUint64(dst, *(*uint64)(p))
		case kBool:
			if *(*bool)(p) {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		case kDateTime:
			dst = binary.LittleEndian.AppendUint64(dst, uint64((*(*time.Time)(p)).UnixMilli()))
		case kDate:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(days(*(*time.Time)(p)))))
		case kStringMap:
			dst = e.appendStringMap(dst, *(*map[string]string)(p), *(*unsafe.Pointer)(p))
		}
	}
	return dst, nil
}

// days returns the days from 1970-01-01 to t's UTC date, clamped to the
// range of Date32 (1900-01-01 to 2299-12-31), whose conversion to Date
// then saturates as ClickHouse's would.
func days(t time.Time) int64 {
	const first, last = -25567, 120529
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return min(max(d, first), last)
}

func (e *rowEncoder) appendStringMap(dst []byte, m map[string]string, id unsafe.Pointer) []byte {
	if id != nil {
		for _, c := range e.maps {
			if c.m == id {
				return append(dst, dst[c.start:c.end]...)
			}
		}
	}
	start := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(m)))
	e.keys = e.keys[:0]
	for k := range m {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	for _, k := range e.keys {
		v := m[k]
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	clear(e.keys) // keep no strings alive through the scratch slice
	if id != nil {
		e.maps[e.next] = encodedMap{m: id, start: start, end: len(dst)}
		e.next = (e.next + 1) % len(e.maps)
	}
	return dst
}
