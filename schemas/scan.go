package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// Why a pre-scan: goavro sizes arrays and maps from the block count written in
// the data (make([]any, 0, count), capped only by goavro.MaxBlockCount, which
// is 2^31 and process-global). Five garbage bytes claiming a block of 2^31
// items would make it allocate tens of gigabytes and kill the process. The
// scan walks the body with the writer schema first, without allocating, and
// rejects any block count the remaining bytes cannot possibly hold, so what
// reaches goavro is bounded by the message size. It also bounds nesting depth
// for recursive writer schemas.

// scanKind is the shape of a writer type, as far as skipping bytes needs it.
type scanKind uint8

const (
	sNull scanKind = iota
	sBool
	sInt
	sLong
	sFloat
	sDouble
	sBytes // also string
	sEnum
	sFixed
	sRecord
	sArray
	sMap
	sUnion
)

type scanNode struct {
	kind     scanKind
	size     int         // fixed: byte size; enum: symbol count
	children []*scanNode // record: fields; array/map: [items]; union: branches
	minSize  int         // smallest possible encoding, in bytes
}

const (
	// maxScanDepth bounds nesting of recursive writer schemas; goavro recurses
	// on the goroutine stack as well.
	maxScanDepth = 256
	// maxEmptyItems bounds blocks whose items can encode to zero bytes (nulls,
	// empty records), which the byte count cannot bound.
	maxEmptyItems = 1 << 16
)

var errScan = errors.New("malformed Avro body")

// mapKey is the type of every map key: a string.
var mapKey = &scanNode{kind: sBytes, minSize: 1}

// buildScan compiles a writer schema (parsed JSON) into a scan tree.
func buildScan(t any) (*scanNode, error) {
	b := scanBuilder{named: map[string]*scanNode{}}
	n, err := b.build(t, "")
	if err != nil {
		return nil, err
	}
	setMinSize(n, map[*scanNode]bool{})
	return n, nil
}

type scanBuilder struct {
	named map[string]*scanNode
}

func (b *scanBuilder) build(t any, ns string) (*scanNode, error) {
	switch v := t.(type) {
	case string:
		return b.primitive(v, ns)
	case []any:
		n := &scanNode{kind: sUnion}
		for _, br := range v {
			c, err := b.build(br, ns)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, c)
		}
		return n, nil
	case map[string]any:
		typ, ok := v["type"].(string)
		if !ok {
			// {"type": {...}} or {"type": [...]}: a wrapped type.
			return b.build(v["type"], ns)
		}
		switch typ {
		case "record", "error", "enum", "fixed":
			name, _ := v["name"].(string)
			full := name
			if !strings.Contains(name, ".") {
				if vns, ok := v["namespace"].(string); ok {
					ns = vns
				}
				if ns != "" {
					full = ns + "." + name
				}
			} else {
				ns = name[:strings.LastIndexByte(name, '.')]
			}
			n := &scanNode{}
			b.named[full] = n // before the fields: records may refer to themselves
			switch typ {
			case "enum":
				syms, _ := v["symbols"].([]any)
				n.kind, n.size = sEnum, len(syms)
			case "fixed":
				size, _ := v["size"].(float64)
				if size < 0 {
					return nil, fmt.Errorf("fixed %s: negative size", full)
				}
				n.kind, n.size = sFixed, int(size)
			default:
				n.kind = sRecord
				fields, _ := v["fields"].([]any)
				for _, f := range fields {
					fm, _ := f.(map[string]any)
					c, err := b.build(fm["type"], ns)
					if err != nil {
						return nil, err
					}
					n.children = append(n.children, c)
				}
			}
			return n, nil
		case "array":
			c, err := b.build(v["items"], ns)
			if err != nil {
				return nil, err
			}
			return &scanNode{kind: sArray, children: []*scanNode{c}}, nil
		case "map":
			c, err := b.build(v["values"], ns)
			if err != nil {
				return nil, err
			}
			return &scanNode{kind: sMap, children: []*scanNode{c}}, nil
		default:
			return b.primitive(typ, ns)
		}
	}
	return nil, fmt.Errorf("unsupported schema element %T", t)
}

func (b *scanBuilder) primitive(name, ns string) (*scanNode, error) {
	switch name {
	case "null":
		return &scanNode{kind: sNull}, nil
	case "boolean":
		return &scanNode{kind: sBool}, nil
	case "int":
		return &scanNode{kind: sInt}, nil
	case "long":
		return &scanNode{kind: sLong}, nil
	case "float":
		return &scanNode{kind: sFloat}, nil
	case "double":
		return &scanNode{kind: sDouble}, nil
	case "bytes", "string":
		return &scanNode{kind: sBytes}, nil
	}
	if n, ok := b.named[name]; ok {
		return n, nil
	}
	if n, ok := b.named[ns+"."+name]; ok && ns != "" {
		return n, nil
	}
	return nil, fmt.Errorf("unknown type name %q", name)
}

// setMinSize computes the smallest encoding of each node. A record reached
// again while computing itself (recursion) counts as 0, which only makes the
// bound looser.
func setMinSize(n *scanNode, visiting map[*scanNode]bool) int {
	if visiting[n] {
		return 0
	}
	visiting[n] = true
	defer delete(visiting, n)
	switch n.kind {
	case sNull:
		n.minSize = 0
	case sFloat:
		n.minSize = 4
	case sDouble:
		n.minSize = 8
	case sFixed:
		n.minSize = n.size
	case sRecord:
		sum := 0
		for _, c := range n.children {
			sum += setMinSize(c, visiting)
		}
		n.minSize = sum
	case sArray, sMap, sUnion:
		for _, c := range n.children {
			setMinSize(c, visiting)
		}
		n.minSize = 1
	default: // bool, int, long, bytes, enum
		n.minSize = 1
	}
	return n.minSize
}

// skip walks one value of type n at the start of b and returns the rest.
func (n *scanNode) skip(b []byte, depth int) ([]byte, error) {
	if depth > maxScanDepth {
		return nil, fmt.Errorf("%w: nesting deeper than %d", errScan, maxScanDepth)
	}
	switch n.kind {
	case sNull:
		return b, nil
	case sBool:
		if len(b) < 1 {
			return nil, fmt.Errorf("%w: truncated boolean", errScan)
		}
		return b[1:], nil
	case sInt, sLong:
		_, rest, err := varint(b)
		return rest, err
	case sFloat:
		return fixedLen(b, 4)
	case sDouble:
		return fixedLen(b, 8)
	case sFixed:
		return fixedLen(b, n.size)
	case sBytes:
		l, rest, err := varint(b)
		if err != nil {
			return nil, err
		}
		if l < 0 || l > int64(len(rest)) {
			return nil, fmt.Errorf("%w: length %d with %d bytes left", errScan, l, len(rest))
		}
		return rest[l:], nil
	case sEnum:
		i, rest, err := varint(b)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(n.size) {
			return nil, fmt.Errorf("%w: enum index %d out of %d symbols", errScan, i, n.size)
		}
		return rest, nil
	case sUnion:
		i, rest, err := varint(b)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(n.children)) {
			return nil, fmt.Errorf("%w: union index %d out of %d branches", errScan, i, len(n.children))
		}
		return n.children[i].skip(rest, depth+1)
	case sRecord:
		var err error
		for _, c := range n.children {
			if b, err = c.skip(b, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case sArray, sMap:
		return n.skipBlocks(b, depth)
	}
	return nil, fmt.Errorf("%w: unknown node", errScan)
}

func (n *scanNode) skipBlocks(b []byte, depth int) ([]byte, error) {
	item := n.children[0]
	per := item.minSize
	if n.kind == sMap {
		per++ // every entry has a key, at least its length byte
	}
	for {
		count, rest, err := varint(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if count == 0 {
			return b, nil
		}
		if count < 0 {
			// A negative count is followed by the block's byte size.
			if count == -count { // math.MinInt64
				return nil, fmt.Errorf("%w: block count overflows", errScan)
			}
			count = -count
			if _, b, err = varint(b); err != nil {
				return nil, err
			}
		}
		if per > 0 && count > int64(len(b)/per) {
			return nil, fmt.Errorf("%w: block of %d items with %d bytes left", errScan, count, len(b))
		}
		if per == 0 && count > maxEmptyItems {
			return nil, fmt.Errorf("%w: block of %d empty items exceeds %d", errScan, count, maxEmptyItems)
		}
		for i := int64(0); i < count; i++ {
			if n.kind == sMap {
				if b, err = mapKey.skip(b, depth+1); err != nil {
					return nil, err
				}
			}
			if b, err = item.skip(b, depth+1); err != nil {
				return nil, err
			}
		}
	}
}

func fixedLen(b []byte, n int) ([]byte, error) {
	if len(b) < n {
		return nil, fmt.Errorf("%w: truncated, need %d bytes, have %d", errScan, n, len(b))
	}
	return b[n:], nil
}

// varint reads one zig-zag varint (Avro int and long), at most 10 bytes.
func varint(b []byte) (int64, []byte, error) {
	var u uint64
	for i := 0; i < len(b) && i < 10; i++ {
		u |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1), b[i+1:], nil
		}
	}
	if len(b) >= 10 {
		return 0, nil, fmt.Errorf("%w: varint longer than 10 bytes", errScan)
	}
	return 0, nil, fmt.Errorf("%w: truncated varint", errScan)
}
