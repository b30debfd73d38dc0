package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// sqlCode returns the SQLSTATE of err, or "".
func sqlCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// stepError wraps err for a helper's step.
func stepError(b *starlark.Builtin, what string, err error) error {
	return fmt.Errorf("%s: %s: %w", b.Name(), what, explainSQL(err))
}

func role(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sv                              *SessionValue
		name                            string
		login                           = true
		createdb, createrole, superuser bool
		password                        secret.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session", &sv, "name", &name, "login?", &login,
		"createdb?", &createdb, "createrole?", &createrole, "password?", &password, "superuser?", &superuser); err != nil {
		return nil, err
	}

	ident, err := QuoteIdent(name)
	if err != nil {
		return nil, fmt.Errorf("%s: role name %q: %w", b.Name(), name, err)
	}
	env := runtime.EnvOf(thread)
	s := sv.Session
	want := map[string]bool{"SUPERUSER": superuser, "CREATEROLE": createrole, "CREATEDB": createdb, "LOGIN": login}
	order := []string{"LOGIN", "SUPERUSER", "CREATEDB", "CREATEROLE"}

	step := runtime.Begin(thread, b, args, kwargs)
	res, err := s.Query(env.Ctx, sqlRole, name)
	if err != nil {
		return nil, step.Fail(stepError(b, "cannot read role "+name, err))
	}

	if len(res.Rows) == 0 {
		options := []string{}
		for _, attr := range order {
			if want[attr] {
				options = append(options, attr)
			} else if attr == "LOGIN" {
				options = append(options, "NOLOGIN")
			}
		}
		if password.Unknown != nil {
			step.Report(runtime.Created, "")
			return starlark.None, nil
		}
		if password.Secret != nil {
			lit, err := verifierLiteral(password.Secret.Reveal())
			if err != nil {
				return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
			}
			options = append(options, "PASSWORD "+lit)
		}
		stmt := "CREATE ROLE " + ident + " WITH " + strings.Join(options, " ")
		return starlark.None, step.Apply(runtime.Created, "", func() error {
			if _, err := s.Exec(env.Ctx, stmt); err != nil {
				return stepError(b, "cannot create role "+name, err)
			}
			return nil
		})
	}

	row := res.Rows[0]
	have := map[string]bool{"SUPERUSER": row[1] == true, "CREATEROLE": row[2] == true, "CREATEDB": row[3] == true, "LOGIN": row[4] == true}
	var options, diffs []string
	for _, attr := range order {
		if have[attr] != want[attr] {
			prefix := ""
			if !want[attr] {
				prefix = "NO"
			}
			options = append(options, prefix+attr)
			diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", strings.ToLower(attr), have[attr], want[attr]))
		}
	}
	switch {
	case password.Unknown != nil:
		diffs = append(diffs, "password: known after apply")
	case password.Secret != nil:
		same, how, err := passwordMatches(env.Ctx, s, name, password.Secret.Reveal())
		if err != nil {
			return nil, step.Fail(stepError(b, "cannot read the password of role "+name, err))
		}
		if !same {
			lit, err := verifierLiteral(password.Secret.Reveal())
			if err != nil {
				return nil, step.Fail(fmt.Errorf("%s: %w", b.Name(), err))
			}
			options = append(options, "PASSWORD "+lit)
			diffs = append(diffs, "password: "+how)
		}
	}
	if len(diffs) == 0 {
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}
	if password.Unknown != nil && len(options) == 0 {
		step.Report(runtime.Changed, strings.Join(diffs, "\n"))
		return starlark.None, nil
	}
	stmt := "ALTER ROLE " + ident + " WITH " + strings.Join(options, " ")
	return starlark.None, step.Apply(runtime.Changed, strings.Join(diffs, "\n"), func() error {
		if _, err := s.Exec(env.Ctx, stmt); err != nil {
			return stepError(b, "cannot change role "+name, err)
		}
		return nil
	})
}

// verifierLiteral returns the SCRAM verifier of password as a SQL literal.
func verifierLiteral(password string) (string, error) {
	v, err := ScramVerifier(password)
	if err != nil {
		return "", err
	}
	return QuoteLiteral(v)
}

// passwordMatches reports whether role name already has password. It
// recomputes the stored verifier when the session can read pg_authid (a
// superuser), and otherwise tries to log in as the role, as a managed
// database's administrator must. how says why the password differs.
func passwordMatches(ctx context.Context, s Session, name, password string) (same bool, how string, err error) {
	res, err := s.Query(ctx, sqlRolePassword, name)
	if err == nil {
		if len(res.Rows) == 0 || res.Rows[0][0] == nil {
			return false, "the role has none", nil
		}
		stored, _ := res.Rows[0][0].(string)
		if ScramMatches(stored, password) {
			return true, "", nil
		}
		if !strings.HasPrefix(stored, "SCRAM-SHA-256$") {
			return false, "stored as MD5, will be stored as SCRAM-SHA-256", nil
		}
		return false, "differs", nil
	}
	if sqlCode(err) != "42501" {
		return false, "", err
	}

	switch err := s.Login(ctx, name, password); {
	case err == nil:
		return true, "", nil
	case sqlCode(err) == "28P01":
		return false, "differs (a login with it failed)", nil
	default:
		return false, "cannot be checked (pg_authid is not readable and a login as the role failed: " + connectCause(err) + ")", nil
	}
}

func database(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sv       *SessionValue
		name     string
		owner    string
		encoding = "UTF8"
		template = "template0"
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session", &sv, "name", &name, "owner??", &owner,
		"encoding?", &encoding, "template?", &template); err != nil {
		return nil, err
	}

	ident, err := QuoteIdent(name)
	if err != nil {
		return nil, fmt.Errorf("%s: database name %q: %w", b.Name(), name, err)
	}
	stmt := "CREATE DATABASE " + ident
	if owner != "" {
		o, err := QuoteIdent(owner)
		if err != nil {
			return nil, fmt.Errorf("%s: owner %q: %w", b.Name(), owner, err)
		}
		stmt += " OWNER " + o
	}
	enc, err := QuoteLiteral(encoding)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding %q: %w", b.Name(), encoding, err)
	}
	tmpl, err := QuoteIdent(template)
	if err != nil {
		return nil, fmt.Errorf("%s: template %q: %w", b.Name(), template, err)
	}
	stmt += " ENCODING " + enc + " TEMPLATE " + tmpl
	env := runtime.EnvOf(thread)
	s := sv.Session

	step := runtime.Begin(thread, b, args, kwargs)
	res, err := s.Query(env.Ctx, sqlDatabase, name)
	if err != nil {
		return nil, step.Fail(stepError(b, "cannot read database "+name, err))
	}
	if len(res.Rows) == 0 {
		return starlark.None, step.Apply(runtime.Created, "", func() error {
			if _, err := s.Exec(env.Ctx, stmt); err != nil {
				return stepError(b, "cannot create database "+name, err)
			}
			return nil
		})
	}

	var diffs []string
	if have, _ := res.Rows[0][1].(string); owner != "" && have != owner {
		diffs = append(diffs, fmt.Sprintf("owner: %q, want %q", have, owner))
	}
	if have, _ := res.Rows[0][2].(string); !strings.EqualFold(normalizeEncoding(have), normalizeEncoding(encoding)) {
		diffs = append(diffs, fmt.Sprintf("encoding: %q, want %q", have, encoding))
	}
	if len(diffs) > 0 {
		return nil, step.Drift("database "+name, diffs,
			fmt.Sprintf("change the owner with `ALTER DATABASE %s OWNER TO ...`; a different encoding needs a new database", ident))
	}
	step.Report(runtime.Unchanged, "")
	return starlark.None, nil
}

func normalizeEncoding(e string) string {
	return strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(e))
}

// privilegeSets lists the privileges that ALL stands for on each object.
var privilegeSets = map[string][]string{
	"DATABASE": {"CONNECT", "CREATE", "TEMPORARY"},
	"SCHEMA":   {"USAGE", "CREATE"},
}

func grant(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sv                   *SessionValue
		privileges           starlark.Value
		onDatabase, onSchema string
		to, databaseName     string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session", &sv, "privileges", &privileges,
		"on_database??", &onDatabase, "on_schema??", &onSchema, "to", &to, "database??", &databaseName); err != nil {
		return nil, err
	}

	kind, object := "DATABASE", onDatabase
	switch {
	case onDatabase != "" && onSchema != "":
		return nil, fmt.Errorf("%s: on_database and on_schema are both given: grant on one object per call", b.Name())
	case onSchema != "":
		kind, object = "SCHEMA", onSchema
	case onDatabase == "":
		return nil, fmt.Errorf("%s: missing on_database or on_schema: name the object to grant on", b.Name())
	}
	privs, err := parsePrivileges(privileges, kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	objIdent, err := QuoteIdent(object)
	if err != nil {
		return nil, fmt.Errorf("%s: %s name %q: %w", b.Name(), strings.ToLower(kind), object, err)
	}
	roleIdent, err := QuoteIdent(to)
	if err != nil {
		return nil, fmt.Errorf("%s: role %q: %w", b.Name(), to, err)
	}
	env := runtime.EnvOf(thread)

	step := runtime.Begin(thread, b, args, kwargs)
	s := sv.Session
	if kind == "SCHEMA" && databaseName != "" && databaseName != s.Info().Database {
		other, err := s.OpenDatabase(env.Ctx, databaseName)
		if err != nil {
			if env.DryRun && sqlCode(err) == "3D000" {
				step.Report(runtime.Changed, fmt.Sprintf("database %s does not exist yet", databaseName))
				return starlark.None, nil
			}
			return nil, step.Fail(fmt.Errorf("%s: cannot open database %s: %w", b.Name(), databaseName, err))
		}
		defer other.Close()
		s = other
	}

	check := sqlDatabasePrivilege
	if kind == "SCHEMA" {
		check = sqlSchemaPrivilege
	}
	var missing []string
	for _, p := range privs {
		res, err := s.Query(env.Ctx, check, to, object, p)
		if err != nil {
			// Under --dry-run the role or database may come from a step
			// that only would have created it.
			if env.DryRun && (sqlCode(err) == "42704" || sqlCode(err) == "3D000" || sqlCode(err) == "3F000") {
				step.Report(runtime.Changed, "")
				return starlark.None, nil
			}
			return nil, step.Fail(stepError(b, "cannot read privileges", err))
		}
		if len(res.Rows) == 0 || res.Rows[0][0] != true {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		step.Report(runtime.Unchanged, "")
		return starlark.None, nil
	}
	stmt := fmt.Sprintf("GRANT %s ON %s %s TO %s", strings.Join(missing, ", "), kind, objIdent, roleIdent)
	return starlark.None, step.Apply(runtime.Changed, "grants "+strings.Join(missing, ", "), func() error {
		if _, err := s.Exec(env.Ctx, stmt); err != nil {
			return stepError(b, "cannot grant", err)
		}
		return nil
	})
}

// parsePrivileges reads a privilege or a list of them, expanding ALL.
func parsePrivileges(v starlark.Value, kind string) ([]string, error) {
	var names []string
	switch v := v.(type) {
	case starlark.String:
		names = []string{string(v)}
	case *starlark.List:
		for i := range v.Len() {
			s, ok := starlark.AsString(v.Index(i))
			if !ok {
				return nil, fmt.Errorf("privileges[%d] must be a string, got %s", i, v.Index(i).Type())
			}
			names = append(names, s)
		}
	default:
		return nil, fmt.Errorf("privileges must be a string or a list of strings, got %s", v.Type())
	}
	valid := privilegeSets[kind]
	var out []string
	for _, n := range names {
		n = strings.ToUpper(strings.TrimSpace(n))
		if n == "TEMP" {
			n = "TEMPORARY"
		}
		if n == "ALL" || n == "ALL PRIVILEGES" {
			return valid, nil
		}
		ok := false
		for _, p := range valid {
			ok = ok || p == n
		}
		if !ok {
			return nil, fmt.Errorf("privilege %q does not apply to a %s: use %s or ALL", n, strings.ToLower(kind), strings.Join(valid, ", "))
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("privileges is empty: name at least one privilege")
	}
	return out, nil
}
