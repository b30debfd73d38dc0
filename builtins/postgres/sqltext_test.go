package postgres

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuoteIdent(t *testing.T) {
	cases := map[string]string{
		"smc": `"smc"`, `we"ird`: `"we""ird"`, "Mixed Case": `"Mixed Case"`, "ünï": `"ünï"`,
	}
	for in, want := range cases {
		got, err := QuoteIdent(in)
		if err != nil || got != want {
			t.Errorf("QuoteIdent(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a\x00b", "\xff", strings.Repeat("x", 64)} {
		if _, err := QuoteIdent(bad); err == nil {
			t.Errorf("QuoteIdent(%q) succeeded", bad)
		}
	}
}

func TestQuoteLiteral(t *testing.T) {
	cases := map[string]string{
		"plain": `'plain'`, "it's": `'it''s'`, `back\slash`: `E'back\\slash'`, `'\'`: `E'''\\'''`, "": `''`,
	}
	for in, want := range cases {
		got, err := QuoteLiteral(in)
		if err != nil || got != want {
			t.Errorf("QuoteLiteral(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := QuoteLiteral("a\x00b"); err == nil {
		t.Error("QuoteLiteral accepted a NUL byte")
	}
}

// FuzzQuoteLiteral checks that a quoted literal is one token to the
// lexer, whatever it holds: the statement around it does not split, gains
// no placeholder, and the literal reads back as the value.
func FuzzQuoteLiteral(f *testing.F) {
	for _, s := range []string{"", "'", "''", `\`, `\'`, "$1", "$$", "--", "/*", ";", "E'x'", "\"", "a'; drop table x; --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit, err := QuoteLiteral(s)
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			if err == nil {
				t.Fatalf("QuoteLiteral(%q) accepted invalid text", s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := splitSQL("select " + lit + " as v; select 2")
		if err != nil {
			t.Fatalf("splitSQL of %s: %v", lit, err)
		}
		if len(stmts) != 2 || len(stmts[0].placeholders) != 0 {
			t.Fatalf("%s splits into %d statements with placeholders %v", lit, len(stmts), stmts[0].placeholders)
		}
		if got := unquoteLiteral(lit); got != s {
			t.Fatalf("unquoteLiteral(%s) = %q, want %q", lit, got, s)
		}

		ident, err := QuoteIdent(s)
		if s == "" || len(s) > maxIdentifierLength {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		stmts, err = splitSQL("select 1 as " + ident + "; select 2")
		if err != nil || len(stmts) != 2 {
			t.Fatalf("identifier %s splits into %d statements: %v", ident, len(stmts), err)
		}
		if got := unquoteIdent(ident); got != s {
			t.Fatalf("unquoteIdent(%s) = %q, want %q", ident, got, s)
		}
	})
}

func TestSplitSQL(t *testing.T) {
	cases := []struct {
		sql  string
		want []string
	}{
		{"select 1; select 2;", []string{"select 1;", " select 2;"}},
		{"select 'a;b'; select \"x;y\" from t", []string{"select 'a;b';", " select \"x;y\" from t"}},
		{"select E'it\\'s;'; select 2", []string{"select E'it\\'s;';", " select 2"}},
		{"select $$a;b$$, $tag$ $$;$$ $tag$; select 2", []string{"select $$a;b$$, $tag$ $$;$$ $tag$;", " select 2"}},
		{"-- c;\nselect 1 /* a; /* nested; */ b */; ", []string{"-- c;\nselect 1 /* a; /* nested; */ b */;"}},
		{"create function f() returns int language sql begin atomic select 1; select 2; end; select 3",
			[]string{"create function f() returns int language sql begin atomic select 1; select 2; end;", " select 3"}},
		{"begin; select 1; commit;", []string{"begin;", " select 1;", " commit;"}},
		{";;  ; -- only comments\n", nil},
	}
	for _, c := range cases {
		stmts, err := splitSQL(c.sql)
		if err != nil {
			t.Errorf("splitSQL(%q): %v", c.sql, err)
			continue
		}
		var got []string
		for _, s := range stmts {
			got = append(got, s.text)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitSQL(%q) = %q; want %q", c.sql, got, c.want)
		}
	}

	for _, bad := range []string{"select 'open", `select "open`, "select $$open", "select /* open"} {
		if _, err := splitSQL(bad); err == nil {
			t.Errorf("splitSQL(%q) succeeded", bad)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	stmts, err := splitSQL("select $1, '$2', a$3, $10::int, \"$4\", $$ $5 $$ from t where x = $2")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, p := range stmts[0].placeholders {
		got = append(got, p.n)
	}
	if want := []int{1, 10, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("placeholders %v; want %v", got, want)
	}

	if err := checkArgs(stmts, 10); err != nil {
		t.Error(err)
	}
	if err := checkArgs(stmts, 2); err == nil || !strings.Contains(err.Error(), "up to $10 but 2 arguments") {
		t.Errorf("checkArgs with too few: %v", err)
	}
	two, _ := splitSQL("select 1; select $1")
	if err := checkArgs(two, 1); err == nil || !strings.Contains(err.Error(), "must be one statement") {
		t.Errorf("checkArgs with two statements: %v", err)
	}
}

func TestBindVariables(t *testing.T) {
	stmts, _ := splitSQL("select $1::text, $2, $1 where x = $3")
	sql, sets, err := bindVariables(stmts[0], []any{"a'b\nc\\d", nil, int64(3)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "select :'cocalcctl_1'::text, NULL, :'cocalcctl_1' where x = :'cocalcctl_3'"; sql != want {
		t.Errorf("sql = %q; want %q", sql, want)
	}
	if want := "\\set cocalcctl_1 'a\\'b\\nc\\\\d'\n\\set cocalcctl_3 '3'\n"; sets != want {
		t.Errorf("sets = %q; want %q", sets, want)
	}
}
