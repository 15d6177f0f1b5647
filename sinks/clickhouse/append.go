package clickhouse

import (
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

var rowPlans sync.Map // reflect.Type → []int (field index per `ch` column)

// appendRow appends one row struct of sinks.Tables (a pointer) to b, its
// fields in the order of the `ch` tags, which is the INSERT column list. It
// is batch.AppendStruct with one difference: a map[string]string goes in
// with its keys sorted. ClickHouse's Map keeps the order it is given and Go
// maps have none, so AppendStruct would store the same attributes in a
// different order on every write: rows of the two sinks would differ (the
// chDB sink writes JSON objects with sorted keys), a retried row would not
// be byte-identical, and map equality or GROUP BY attributes would split.
func appendRow(b chdriver.Batch, row any) error {
	v := reflect.ValueOf(row)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("row %T: want a pointer to a row struct", row)
	}
	v = v.Elem()
	plan, ok := rowPlans.Load(v.Type())
	if !ok {
		var idx []int
		for i := 0; i < v.NumField(); i++ {
			if name := v.Type().Field(i).Tag.Get("ch"); name != "" && name != "-" {
				idx = append(idx, i)
			}
		}
		plan, _ = rowPlans.LoadOrStore(v.Type(), idx)
	}
	idx := plan.([]int)
	vals := make([]any, len(idx))
	for i, fi := range idx {
		f := v.Field(fi)
		if m, ok := f.Interface().(map[string]string); ok {
			vals[i] = newSortedMap(m)
			continue
		}
		vals[i] = f.Interface()
	}
	return b.Append(vals...)
}

// sortedMap is a map[string]string that clickhouse-go appends in key order
// (column.IterableOrderedMap).
type sortedMap struct {
	keys []string
	m    map[string]string
}

var _ column.IterableOrderedMap = (*sortedMap)(nil)

func newSortedMap(m map[string]string) *sortedMap {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return &sortedMap{keys: keys, m: m}
}

// Put is required by column.IterableOrderedMap; appendRow never scans into
// a sortedMap.
func (s *sortedMap) Put(key, value any) {
	k, v := fmt.Sprint(key), fmt.Sprint(value)
	if _, ok := s.m[k]; !ok {
		s.keys = append(s.keys, k)
		sort.Strings(s.keys)
	}
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[k] = v
}

// Iterator walks the keys in order.
func (s *sortedMap) Iterator() column.MapIterator { return &sortedIter{s: s, i: -1} }

type sortedIter struct {
	s *sortedMap
	i int
}

func (it *sortedIter) Next() bool { it.i++; return it.i < len(it.s.keys) }
func (it *sortedIter) Key() any   { return it.s.keys[it.i] }
func (it *sortedIter) Value() any { return it.s.m[it.s.keys[it.i]] }
