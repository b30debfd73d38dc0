package postgres

import (
	"math"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestDecodeText(t *testing.T) {
	cases := []struct {
		text string
		typ  ColumnType
		want any
	}{
		{"t", ColumnType{Kind: kindBool}, true},
		{"-42", ColumnType{Kind: kindInt}, int64(-42)},
		{"1.5e3", ColumnType{Kind: kindFloat}, 1500.0},
		{"-Infinity", ColumnType{Kind: kindFloat}, math.Inf(-1)},
		{`\x00ff`, ColumnType{Kind: kindBytes}, []byte{0, 255}},
		{"2026-01-02 03:04:05+00", ColumnType{Kind: kindString}, "2026-01-02 03:04:05+00"},
		{"{1,NULL,3}", ColumnType{Kind: kindInt, Array: true}, []any{int64(1), nil, int64(3)}},
		{`{"a b","q\"x",NULL,"NULL",""}`, ColumnType{Kind: kindString, Array: true}, []any{"a b", `q"x`, nil, "NULL", ""}},
		{"{{1,2},{3,4}}", ColumnType{Kind: kindInt, Array: true}, []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}}},
		{"[0:1]={t,f}", ColumnType{Kind: kindBool, Array: true}, []any{true, false}},
		{"{}", ColumnType{Kind: kindInt, Array: true}, []any{}},
	}
	for _, c := range cases {
		got, err := decodeText(c.text, c.typ)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("decodeText(%q) = %#v, %v; want %#v", c.text, got, err, c.want)
		}
	}
	for _, bad := range []string{"{1,2", "{1,x}", "{1}x"} {
		if _, err := decodeText(bad, ColumnType{Kind: kindInt, Array: true}); err == nil {
			t.Errorf("decodeText(%q) succeeded", bad)
		}
	}
}

func TestColumnTypes(t *testing.T) {
	byOID := map[uint32]ColumnType{
		pgtype.Int4OID: {Kind: kindInt}, pgtype.TextOID: {Kind: kindString}, pgtype.Int8ArrayOID: {Kind: kindInt, Array: true},
		pgtype.UUIDOID: {Kind: kindString}, pgtype.TextArrayOID: {Kind: kindString, Array: true}, pgtype.ByteaOID: {Kind: kindBytes},
	}
	for oid, want := range byOID {
		if got := typeOfOID(oid); got != want {
			t.Errorf("typeOfOID(%d) = %+v; want %+v", oid, got, want)
		}
	}
	byName := map[string]ColumnType{
		"integer": {Kind: kindInt}, "text": {Kind: kindString}, "bigint[]": {Kind: kindInt, Array: true},
		"uuid": {Kind: kindString}, "double precision": {Kind: kindFloat}, "character varying(10)[]": {Kind: kindString, Array: true},
	}
	for name, want := range byName {
		if got := typeOfName(name); got != want {
			t.Errorf("typeOfName(%q) = %+v; want %+v", name, got, want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	s := func(v string) *string { return &v }
	got, err := parseRecord(`(1,"a b",,"","q""x\\y",{1})`)
	if err != nil {
		t.Fatal(err)
	}
	want := []*string{s("1"), s("a b"), nil, s(""), s(`q"x\y`), s("{1}")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseRecord = %q; want %q", deref(got), deref(want))
	}
	if _, err := parseRecord(`(1,"open)`); err == nil {
		t.Error("parseRecord accepted an open quote")
	}
}

func deref(ps []*string) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		if p != nil {
			out[i] = *p
		}
	}
	return out
}

func TestParamText(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{"x", "x"}, {true, "true"}, {int64(-3), "-3"}, {0.1, "0.1"}, {math.NaN(), "NaN"},
		{[]byte{1, 171}, `\x01ab`}, {[]any{int64(1), nil, "a\"b\\"}, `{1,NULL,"a\"b\\"}`},
		{[]any{[]any{"x"}, []any{"y"}}, `{{"x"},{"y"}}`},
	}
	for _, c := range cases {
		got, err := encodeParam(c.in)
		if err != nil || *got != c.want {
			t.Errorf("encodeParam(%#v) = %q, %v; want %q", c.in, *got, err, c.want)
		}
	}
	if got, _ := encodeParam(nil); got != nil {
		t.Errorf("encodeParam(nil) = %q; want NULL", *got)
	}
}
