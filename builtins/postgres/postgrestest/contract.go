// Package postgrestest is the contract suite of postgres.Session: the same
// checks run against the fake, a pgx session and a psql session in a
// container, so the fake cannot drift from what a server does.
package postgrestest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cocalcctl/cocalcctl/builtins/postgres"
)

// Target is a kind of session under test.
type Target struct {
	// Open returns a session as a superuser to database postgres of a
	// server that the suite may change: it creates roles and databases
	// with random names and sets work_mem with ALTER SYSTEM.
	Open func(t *testing.T) postgres.Session

	// Fake is the server behind fake sessions. The suite registers there the
	// results of SQL that is not a catalogue query. It is nil for real
	// servers.
	Fake *postgres.FakeServer

	// Password is the password of the session's role for Login, or "" when
	// the session cannot try a login (a psql session).
	Password string
}

// Run runs the contract suite against target.
func Run(t *testing.T, target Target) {
	ctx := context.Background()
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	register := func(sql string, res *postgres.Result, rows int64) {
		switch {
		case target.Fake == nil:
		case res != nil:
			target.Fake.Register(sql, res)
		default:
			target.Fake.RegisterExec(sql, rows)
		}
	}

	t.Run("InfoDescribesSession", func(t *testing.T) {
		s := target.Open(t)
		info := s.Info()
		if info.User == "" || info.Database != "postgres" || info.Where == "" || info.Kind == "" {
			t.Errorf("Info() = %+v; want user, database postgres, where and kind set", info)
		}
	})

	t.Run("QueryDecodesTypes", func(t *testing.T) {
		s := target.Open(t)
		sql := `select $1::text as t, $2::int as i, $3::bool as b, $4::bytea as by, $5::float8 as f, ` +
			`$6::int[] as a, $7::text as n, $8::bigint as big, '{"x y","q\"uote"}'::text[] as ta`
		want := &postgres.Result{
			Columns: []string{"t", "i", "b", "by", "f", "a", "n", "big", "ta"},
			Rows: [][]any{{"it's \"here\"", int64(42), true, []byte{0, 1, 255}, 1.5,
				[]any{int64(1), nil, int64(3)}, nil, int64(1) << 40, []any{"x y", `q"uote`}}},
		}
		register(sql, want, 0)
		got, err := s.Query(ctx, sql, "it's \"here\"", int64(42), true, []byte{0, 1, 255}, 1.5,
			[]any{int64(1), nil, int64(3)}, nil, int64(1)<<40)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Query returned\n%#v\nwant\n%#v", got, want)
		}
	})

	t.Run("QueryZeroRows", func(t *testing.T) {
		s := target.Open(t)
		res, err := s.Query(ctx, "select rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin from pg_catalog.pg_roles where rolname = $1", "no_such_"+suffix)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 0 || len(res.Columns) != 5 {
			t.Errorf("Query = %+v; want 5 columns and no rows", res)
		}
	})

	t.Run("QueryWithoutRowsIsErrNoRows", func(t *testing.T) {
		s := target.Open(t)
		sql := "set application_name = 'contract'"
		register(sql, nil, 0)
		if _, err := s.Query(ctx, sql); !errors.Is(err, postgres.ErrNoRows) {
			t.Errorf("Query(%q) error = %v; want ErrNoRows", sql, err)
		}
	})

	t.Run("QueryDuplicateColumns", func(t *testing.T) {
		s := target.Open(t)
		sql := "select 1 as a, 2 as a"
		register(sql, &postgres.Result{Columns: []string{"a", "a"}, Rows: [][]any{{int64(1), int64(2)}}}, 0)
		_, err := s.Query(ctx, sql)
		if err == nil || !strings.Contains(err.Error(), `two columns named "a"`) {
			t.Errorf("error = %v; want two columns named \"a\"", err)
		}
	})

	t.Run("QueryTwoStatements", func(t *testing.T) {
		s := target.Open(t)
		_, err := s.Query(ctx, "select 1 as a; select 2 as b")
		if err == nil || !strings.Contains(err.Error(), "a query must be one statement") {
			t.Errorf("error = %v; want a query must be one statement", err)
		}
	})

	t.Run("ArgumentCountMismatch", func(t *testing.T) {
		s := target.Open(t)
		_, err := s.Query(ctx, "select $1::int as a, $2::int as b", int64(1))
		if err == nil || !strings.Contains(err.Error(), "uses parameters up to $2 but 1 arguments were given") {
			t.Errorf("Query error = %v", err)
		}
		_, err = s.Exec(ctx, "select $1::int; select 2", int64(1))
		if err == nil || !strings.Contains(err.Error(), "SQL with arguments must be one statement") {
			t.Errorf("Exec error = %v", err)
		}
	})

	t.Run("ExecCreatesRoleSeenByCatalogue", func(t *testing.T) {
		s := target.Open(t)
		name := "contract_role_" + suffix
		verifier, err := postgres.ScramVerifier("contract pass")
		if err != nil {
			t.Fatal(err)
		}
		lit, _ := postgres.QuoteLiteral(verifier)
		ident, _ := postgres.QuoteIdent(name)
		if _, err := s.Exec(ctx, "CREATE ROLE "+ident+" WITH LOGIN CREATEDB PASSWORD "+lit); err != nil {
			t.Fatal(err)
		}
		res, err := s.Query(ctx, "select rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin from pg_catalog.pg_roles where rolname = $1", name)
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]any{{name, false, false, true, true}}; !reflect.DeepEqual(res.Rows, want) {
			t.Errorf("pg_roles row = %v; want %v", res.Rows, want)
		}
		res, err = s.Query(ctx, "select rolpassword from pg_catalog.pg_authid where rolname = $1", name)
		if err != nil {
			t.Fatal(err)
		}
		if stored, _ := res.Rows[0][0].(string); !postgres.ScramMatches(stored, "contract pass") {
			t.Errorf("stored password %q does not match the verifier sent", stored)
		}

		_, err = s.Exec(ctx, "CREATE ROLE "+ident+" WITH NOLOGIN")
		if code := sqlState(err); code != "42710" {
			t.Errorf("second CREATE ROLE error = %v; want SQLSTATE 42710", err)
		}
		if _, err := s.Exec(ctx, "ALTER ROLE "+ident+" WITH NOLOGIN CREATEROLE"); err != nil {
			t.Fatal(err)
		}
		res, _ = s.Query(ctx, "select rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin from pg_catalog.pg_roles where rolname = $1", name)
		if want := [][]any{{name, false, true, true, false}}; !reflect.DeepEqual(res.Rows, want) {
			t.Errorf("pg_roles row after ALTER ROLE = %v; want %v", res.Rows, want)
		}
	})

	t.Run("DatabaseOwnerAndPrivileges", func(t *testing.T) {
		s := target.Open(t)
		role, db := "contract_owner_"+suffix, "contract_db_"+suffix
		other := "contract_other_" + suffix
		for _, r := range []string{role, other} {
			ident, _ := postgres.QuoteIdent(r)
			if _, err := s.Exec(ctx, "CREATE ROLE "+ident+" WITH NOLOGIN"); err != nil {
				t.Fatal(err)
			}
		}
		dbIdent, _ := postgres.QuoteIdent(db)
		roleIdent, _ := postgres.QuoteIdent(role)
		otherIdent, _ := postgres.QuoteIdent(other)
		if _, err := s.Exec(ctx, "CREATE DATABASE "+dbIdent+" OWNER "+roleIdent+" ENCODING 'UTF8' TEMPLATE \"template0\""); err != nil {
			t.Fatal(err)
		}
		res, err := s.Query(ctx, "select d.datname, r.rolname as owner, pg_catalog.pg_encoding_to_char(d.encoding) as encoding "+
			"from pg_catalog.pg_database d join pg_catalog.pg_roles r on r.oid = d.datdba where d.datname = $1", db)
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]any{{db, role, "UTF8"}}; !reflect.DeepEqual(res.Rows, want) {
			t.Errorf("pg_database row = %v; want %v", res.Rows, want)
		}
		_, err = s.Exec(ctx, "CREATE DATABASE "+dbIdent+" ENCODING 'UTF8' TEMPLATE \"template0\"")
		if code := sqlState(err); code != "42P04" {
			t.Errorf("second CREATE DATABASE error = %v; want SQLSTATE 42P04", err)
		}

		has := func(priv string) bool {
			t.Helper()
			res, err := s.Query(ctx, "select pg_catalog.has_database_privilege($1, $2, $3) as granted", other, db, priv)
			if err != nil {
				t.Fatal(err)
			}
			return res.Rows[0][0] == true
		}
		if has("CREATE") || !has("CONNECT") {
			t.Errorf("before GRANT: CREATE %v, CONNECT %v; want false, true (PUBLIC has CONNECT)", has("CREATE"), has("CONNECT"))
		}
		if _, err := s.Exec(ctx, "GRANT CREATE ON DATABASE "+dbIdent+" TO "+otherIdent); err != nil {
			t.Fatal(err)
		}
		if !has("CREATE") {
			t.Error("after GRANT CREATE: has_database_privilege is false")
		}
		_, err = s.Query(ctx, "select pg_catalog.has_database_privilege($1, $2, $3) as granted", "no_role_"+suffix, db, "CREATE")
		if code := sqlState(err); code != "42704" {
			t.Errorf("privilege of a missing role: error = %v; want SQLSTATE 42704", err)
		}

		inDB, err := s.OpenDatabase(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer inDB.Close()
		if inDB.Info().Database != db {
			t.Errorf("OpenDatabase: Info().Database = %q; want %q", inDB.Info().Database, db)
		}
		res, err = inDB.Query(ctx, "select pg_catalog.has_schema_privilege($1, $2, $3) as granted", other, "public", "CREATE")
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows[0][0] != false {
			t.Error("CREATE on schema public is granted to a role that is neither owner nor grantee (PostgreSQL 15 and later revoke it)")
		}
		if _, err := inDB.Exec(ctx, "GRANT USAGE, CREATE ON SCHEMA \"public\" TO "+otherIdent); err != nil {
			t.Fatal(err)
		}
		res, _ = inDB.Query(ctx, "select pg_catalog.has_schema_privilege($1, $2, $3) as granted", other, "public", "CREATE")
		if res.Rows[0][0] != true {
			t.Error("after GRANT CREATE ON SCHEMA public: has_schema_privilege is false")
		}
	})

	t.Run("OpenMissingDatabase", func(t *testing.T) {
		s := target.Open(t)
		_, err := s.OpenDatabase(ctx, "no_db_"+suffix)
		if code := sqlState(err); code != "3D000" {
			t.Errorf("OpenDatabase error = %v; want SQLSTATE 3D000", err)
		}
	})

	t.Run("SettingThroughAlterSystem", func(t *testing.T) {
		s := target.Open(t)
		if _, err := s.Exec(ctx, `ALTER SYSTEM SET "work_mem" = '8MB'`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Query(ctx, "select pg_catalog.pg_reload_conf() as reloaded"); err != nil {
			t.Fatal(err)
		}
		res, err := s.Query(ctx, "select setting from pg_catalog.pg_file_settings where name = $1 and sourcefile like '%postgresql.auto.conf' order by seqno desc limit 1", "work_mem")
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]any{{"8MB"}}; !reflect.DeepEqual(res.Rows, want) {
			t.Errorf("postgresql.auto.conf value = %v; want %v", res.Rows, want)
		}
		res, err = s.Query(ctx, "select setting, unit, vartype, context, pending_restart from pg_catalog.pg_settings where name = $1", "work_mem")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 1 || res.Rows[0][1] != "kB" || res.Rows[0][2] != "integer" || res.Rows[0][3] != "user" {
			t.Errorf("pg_settings row = %v; want unit kB, vartype integer, context user", res.Rows)
		}
		if _, err := s.Exec(ctx, `ALTER SYSTEM SET "work_mem" = '4MB'`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("HBAFileRules", func(t *testing.T) {
		s := target.Open(t)
		res, err := s.Query(ctx, "select line_number, type, database, user_name, auth_method from pg_hba_file_rules where error is null order by line_number")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"line_number", "type", "database", "user_name", "auth_method"}; !reflect.DeepEqual(res.Columns, want) {
			t.Errorf("columns = %v; want %v", res.Columns, want)
		}
		if len(res.Rows) == 0 {
			t.Fatal("pg_hba_file_rules has no rows; the server admits this session, so some rule exists")
		}
		last := int64(0)
		for _, row := range res.Rows {
			line, ok := row[0].(int64)
			if !ok || line <= last {
				t.Errorf("line_number %#v after %d; want increasing integers", row[0], last)
			}
			last = line
			if typ, _ := row[1].(string); !strings.HasPrefix(typ, "host") && typ != "local" {
				t.Errorf("type %#v; want local or a host type", row[1])
			}
			for i, col := range []string{"database", "user_name"} {
				list, ok := row[2+i].([]any)
				if !ok || len(list) == 0 {
					t.Errorf("%s %#v; want a list of names", col, row[2+i])
					continue
				}
				if _, ok := list[0].(string); !ok {
					t.Errorf("%s %#v; want strings", col, list)
				}
			}
			if method, _ := row[4].(string); method == "" {
				t.Errorf("auth_method %#v; want a method name", row[4])
			}
		}
	})

	t.Run("ConfigFilePaths", func(t *testing.T) {
		s := target.Open(t)
		for setting, name := range map[string]string{"hba_file": "pg_hba.conf", "config_file": "postgresql.conf"} {
			res, err := s.Query(ctx, "select pg_catalog.current_setting($1) as path", setting)
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := res.Rows[0][0].(string); !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/"+name) {
				t.Errorf("current_setting(%q) = %#v; want an absolute path ending in /%s", setting, res.Rows[0][0], name)
			}
		}
	})

	t.Run("ExecReturnsRowsAffected", func(t *testing.T) {
		s := target.Open(t)
		sql := "select 1 as x union all select 2"
		register(sql, &postgres.Result{Columns: []string{"x"}, Rows: [][]any{{int64(1)}, {int64(2)}}}, 0)
		n, err := s.Exec(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("Exec returned %d; want 2", n)
		}
	})

	t.Run("ServerErrorHasSQLState", func(t *testing.T) {
		s := target.Open(t)
		sql := "select * from no_such_table_" + suffix
		if target.Fake != nil {
			target.Fake.RegisterError(sql, "42P01", "relation \"no_such_table\" does not exist")
		}
		_, err := s.Query(ctx, sql)
		if code := sqlState(err); code != "42P01" {
			t.Errorf("error = %v; want SQLSTATE 42P01", err)
		}
	})

	t.Run("Login", func(t *testing.T) {
		s := target.Open(t)
		if target.Password == "" {
			if err := s.Login(ctx, s.Info().User, "x"); !errors.Is(err, postgres.ErrNotAvailable) {
				t.Errorf("Login error = %v; want ErrNotAvailable", err)
			}
			return
		}
		if err := s.Login(ctx, s.Info().User, target.Password); err != nil {
			t.Errorf("Login with the right password: %v", err)
		}
		if err := s.Login(ctx, s.Info().User, target.Password+"x"); sqlState(err) != "28P01" {
			t.Errorf("Login with a wrong password: error = %v; want SQLSTATE 28P01", err)
		}
	})

	t.Run("ClosedSessionFails", func(t *testing.T) {
		s := target.Open(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Query(ctx, "select 1 as ok"); err == nil {
			t.Error("Query on a closed session succeeded")
		}
	})
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
