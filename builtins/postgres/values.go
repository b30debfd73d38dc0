package postgres

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// Both kinds of session exchange values with the server in its text format:
// arguments are sent as text of unknown type, so the server infers their
// types from the statement as it does for a quoted literal, and results come
// back as the server's text output, decoded here by column type. A pgx
// session and a psql session therefore return the same values.

// kind is how a column's text is decoded.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindFloat
	kindBytes
)

// scalarKinds maps the type OIDs that do not decode as strings.
var scalarKinds = map[uint32]kind{
	pgtype.BoolOID:   kindBool,
	pgtype.Int2OID:   kindInt,
	pgtype.Int4OID:   kindInt,
	pgtype.Int8OID:   kindInt,
	pgtype.OIDOID:    kindInt,
	pgtype.Float4OID: kindFloat,
	pgtype.Float8OID: kindFloat,
	pgtype.ByteaOID:  kindBytes,
}

// typeNames maps the names that format_type (and so psql's \gdesc) prints
// to type OIDs, for the types whose text does not decode as a string.
var typeNames = map[string]uint32{
	"boolean":          pgtype.BoolOID,
	"smallint":         pgtype.Int2OID,
	"integer":          pgtype.Int4OID,
	"bigint":           pgtype.Int8OID,
	"oid":              pgtype.OIDOID,
	"real":             pgtype.Float4OID,
	"double precision": pgtype.Float8OID,
	"bytea":            pgtype.ByteaOID,
}

// ColumnType says how a column's values are decoded: the kind of the value,
// or of its elements when it is an array.
type ColumnType struct {
	Kind  kind
	Array bool
}

var typeMap = pgtype.NewMap()

// typeOfOID returns the ColumnType of a type OID from a row description.
func typeOfOID(oid uint32) ColumnType {
	if k, ok := scalarKinds[oid]; ok {
		return ColumnType{Kind: k}
	}
	if t, ok := typeMap.TypeForOID(oid); ok {
		if ac, ok := t.Codec.(*pgtype.ArrayCodec); ok && ac.ElementType != nil {
			return ColumnType{Kind: scalarKinds[ac.ElementType.OID], Array: true}
		}
	}
	return ColumnType{Kind: kindString}
}

// typeOfName returns the ColumnType of a type named as format_type prints
// it, such as "integer" or "bigint[]".
func typeOfName(name string) ColumnType {
	base, isArray := strings.CutSuffix(name, "[]")
	for strings.HasSuffix(base, "[]") {
		base = strings.TrimSuffix(base, "[]")
	}
	if oid, ok := typeNames[base]; ok {
		return ColumnType{Kind: scalarKinds[oid], Array: isArray}
	}
	return ColumnType{Kind: kindString, Array: isArray}
}

// decodeText converts the server's text output of one value to a Go value:
// int64, float64, bool, string, []byte, or []any for an array.
func decodeText(text string, t ColumnType) (any, error) {
	if t.Array {
		return parseArray(text, t.Kind)
	}
	return decodeScalar(text, t.Kind)
}

func decodeScalar(text string, k kind) (any, error) {
	switch k {
	case kindBool:
		switch text {
		case "t", "true":
			return true, nil
		case "f", "false":
			return false, nil
		}
		return nil, fmt.Errorf("invalid boolean %q", text)
	case kindInt:
		return strconv.ParseInt(text, 10, 64)
	case kindFloat:
		switch text {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(text, 64)
	case kindBytes:
		h, ok := strings.CutPrefix(text, `\x`)
		if !ok {
			return nil, fmt.Errorf("bytea value is not in hex format; set bytea_output to hex")
		}
		return hex.DecodeString(h)
	}
	return text, nil
}

// parseArray parses an array's text output, such as {1,2,NULL} or
// {{"a b",c},{d,e}}, into nested []any.
func parseArray(text string, k kind) (any, error) {
	if strings.HasPrefix(text, "[") {
		// Arrays whose lower bound is not 1 start with their dimensions.
		if i := strings.Index(text, "="); i >= 0 {
			text = text[i+1:]
		}
	}
	p := arrayParser{s: text, kind: k}
	v, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("invalid array %q: %w", text, err)
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("invalid array %q: text after the closing brace", text)
	}
	return v, nil
}

type arrayParser struct {
	s    string
	i    int
	kind kind
}

func (p *arrayParser) parse() ([]any, error) {
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, fmt.Errorf("want { at offset %d", p.i)
	}
	p.i++
	out := []any{}
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return out, nil
	}
	for {
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("missing }")
		}
		var elem any
		switch p.s[p.i] {
		case '{':
			sub, err := p.parse()
			if err != nil {
				return nil, err
			}
			elem = sub
		case '"':
			text, err := p.quoted()
			if err != nil {
				return nil, err
			}
			if elem, err = decodeScalar(text, p.kind); err != nil {
				return nil, err
			}
		default:
			start := p.i
			for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '}' {
				p.i++
			}
			text := p.s[start:p.i]
			if text != "NULL" {
				var err error
				if elem, err = decodeScalar(text, p.kind); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, elem)
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("missing }")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return out, nil
		default:
			return nil, fmt.Errorf("want , or } at offset %d", p.i)
		}
	}
}

func (p *arrayParser) quoted() (string, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; c {
		case '\\':
			p.i++
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
			}
		case '"':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("a quoted element is not closed")
}

// parseRecord splits the text output of a row value, such as (1,"a b",),
// into its fields; an empty unquoted field is NULL and comes back as nil.
func parseRecord(text string) ([]*string, error) {
	if len(text) < 2 || text[0] != '(' || text[len(text)-1] != ')' {
		return nil, fmt.Errorf("invalid row %q", text)
	}
	s := text[1 : len(text)-1]
	var out []*string
	i := 0
	for {
		var b strings.Builder
		quotedField := false
		for i < len(s) && s[i] != ',' {
			switch s[i] {
			case '"':
				quotedField = true
				i++
				for ; i < len(s); i++ {
					if s[i] == '\\' && i+1 < len(s) {
						i++
						b.WriteByte(s[i])
						continue
					}
					if s[i] == '"' {
						if i+1 < len(s) && s[i+1] == '"' {
							b.WriteByte('"')
							i++
							continue
						}
						break
					}
					b.WriteByte(s[i])
				}
				if i >= len(s) {
					return nil, fmt.Errorf("invalid row %q: a quoted field is not closed", text)
				}
				i++
			case '\\':
				if i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			default:
				b.WriteByte(s[i])
				i++
			}
		}
		if b.Len() == 0 && !quotedField {
			out = append(out, nil)
		} else {
			field := b.String()
			out = append(out, &field)
		}
		if i >= len(s) {
			return out, nil
		}
		i++ // the comma
	}
}

// encodeParam converts an argument to the text the server parses, or nil
// for NULL.
func encodeParam(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s, err := paramText(v, false)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func paramText(v any, inArray bool) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("text cannot contain a NUL byte")
		}
		if inArray {
			return quoteArrayElement(v), nil
		}
		return v, nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		switch {
		case math.IsNaN(v):
			return "NaN", nil
		case math.IsInf(v, 1):
			return "Infinity", nil
		case math.IsInf(v, -1):
			return "-Infinity", nil
		}
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []byte:
		s := `\x` + hex.EncodeToString(v)
		if inArray {
			return quoteArrayElement(s), nil
		}
		return s, nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := paramText(e, true)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "{" + strings.Join(parts, ",") + "}", nil
	}
	return "", fmt.Errorf("cannot send a value of Go type %T", v)
}

func quoteArrayElement(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
