package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// LocalSpec is a resolved postgres.local request.
type LocalSpec struct {
	Container, User, Database string

	// ReadOnly makes every transaction read-only; a dry run sets it.
	ReadOnly bool

	// Engine runs psql in the container; the fake ignores it.
	Engine docker.Engine
}

func local(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, user, databaseName = "", "postgres", ""
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "container", &container, "user?", &user, "database??", &databaseName); err != nil {
		return nil, err
	}

	if container == "" {
		return nil, fmt.Errorf("%s: container is empty: name the container that runs PostgreSQL", b.Name())
	}
	if user == "" {
		return nil, fmt.Errorf("%s: user is empty: name a database role, such as \"postgres\"", b.Name())
	}
	if databaseName == "" {
		databaseName = user
	}
	env := runtime.EnvOf(thread)
	spec := &LocalSpec{Container: container, User: user, Database: databaseName, ReadOnly: env.DryRun}
	backend, err := backendOf(thread)
	if err != nil {
		return nil, err
	}
	if _, isReal := backend.(*realBackend); isReal {
		if spec.Engine, err = engineOf(thread); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		if env.DryRun && !containerRuns(env.Ctx, spec.Engine, container) {
			return &SessionValue{Session: &absentSession{info: Info{Kind: "local", User: user, Database: databaseName, Where: container}}}, nil
		}
	}

	s, err := backend.Local(env.Ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return &SessionValue{Session: s}, nil
}

// engineOf returns the run's Docker engine, shared with the docker module.
func engineOf(thread *starlark.Thread) (docker.Engine, error) {
	env := runtime.EnvOf(thread)
	b, err := env.Backend(docker.BackendKey, func() (any, error) { return docker.OpenReal(env.Ctx) })
	if err != nil {
		return nil, err
	}
	engine, ok := b.(docker.Engine)
	if !ok {
		return nil, fmt.Errorf("internal error: the docker backend is a %T", b)
	}
	return engine, nil
}

// Local implements Backend: it checks that psql can log in, then returns a
// session that runs psql for every call.
func (r *realBackend) Local(ctx context.Context, spec *LocalSpec) (Session, error) {
	if spec.Engine == nil {
		return nil, errors.New("internal error: postgres.local has no Docker engine")
	}
	s := &psqlSession{spec: *spec}
	if _, err := s.Query(ctx, sqlPing); err != nil {
		return nil, err
	}
	return s, nil
}

// psqlSession is a Session that runs psql inside a container, over the
// server's Unix socket, as the OS user postgres. Every call is one psql run
// whose script arrives on standard input: arguments are set there as psql
// variables, so they appear neither in the SQL text nor in the container's
// process list.
type psqlSession struct {
	spec   LocalSpec
	closed bool
}

// psqlPrelude makes psql stop at the first error and report SQLSTATE codes.
const psqlPrelude = "\\set ON_ERROR_STOP on\n\\set VERBOSITY verbose\n\\set SHOW_CONTEXT never\n"

const (
	rowCountMarker = "cocalcctl-row-count "
	rowsMarker     = "cocalcctl-rows\n"
)

// bindVariables rewrites the placeholders of st as psql variables and
// returns the SQL and the \set lines that define them. A NULL argument is
// written as NULL, which a psql variable cannot hold.
func bindVariables(st statement, args []any) (string, string, error) {
	var sets strings.Builder
	for i, a := range args {
		v, err := encodeParam(a)
		if err != nil {
			return "", "", fmt.Errorf("argument %d: %w", i+1, err)
		}
		if v != nil {
			fmt.Fprintf(&sets, "\\set cocalcctl_%d %s\n", i+1, psqlQuote(*v))
		}
	}
	var sql strings.Builder
	last := 0
	for _, p := range st.placeholders {
		sql.WriteString(st.text[last:p.start])
		if args[p.n-1] == nil {
			sql.WriteString("NULL")
		} else {
			fmt.Fprintf(&sql, ":'cocalcctl_%d'", p.n)
		}
		last = p.end
	}
	sql.WriteString(st.text[last:])
	return sql.String(), sets.String(), nil
}

// psqlQuote quotes a value for a psql meta-command argument: in single
// quotes, where psql reads backslash escapes, so a newline can be written
// as \n and the value stays on the \set line.
func psqlQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`)
	return "'" + r.Replace(s) + "'"
}

// run runs script with psql and returns its standard output, also when
// psql fails.
func (s *psqlSession) run(ctx context.Context, database, script string) (string, error) {
	if s.closed {
		return "", errors.New("the session is closed")
	}
	env := []string{"PGAPPNAME=cocalcctl"}
	if s.spec.ReadOnly {
		env = append(env, "PGOPTIONS=-c default_transaction_read_only=on")
	}
	res, err := s.spec.Engine.Exec(ctx, s.spec.Container, docker.ExecSpec{
		Cmd:   []string{"psql", "-X", "-q", "-A", "-t", "-U", s.spec.User, "-d", database},
		Env:   env,
		User:  "postgres",
		Stdin: []byte(psqlPrelude + script),
	})
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return res.Stdout, psqlError(res)
	}
	return res.Stdout, nil
}

var (
	psqlErrorLine = regexp.MustCompile(`(?m)(?:^psql:[^\n]*?:\d+: |^| failed: )(ERROR|FATAL):  (?:([0-9A-Z]{5}): )?(.*)$`)
	psqlField     = regexp.MustCompile(`(?m)^(DETAIL|HINT):  (.*)$`)
)

// connectCodes give SQLSTATE codes to the connection failures psql prints
// without one.
var connectCodes = []struct{ re, code string }{
	{`^role ".*" does not exist`, "28000"},
	{`^database ".*" does not exist`, "3D000"},
	{`^the database system is (starting up|not accepting connections|not yet accepting connections)`, "57P03"},
	{`^the database system is shutting down`, "57P03"},
	{`^password authentication failed`, "28P01"},
	{`^(Peer|Ident) authentication failed`, "28000"},
	{`^no pg_hba.conf entry`, "28000"},
}

// psqlError turns psql's report of a failure into the *pgconn.PgError a pgx
// session returns for it, so hints and SQLSTATE checks work the same.
func psqlError(res docker.ExecResult) error {
	out := res.Stderr
	if m := psqlErrorLine.FindStringSubmatch(out); m != nil {
		pgErr := &pgconn.PgError{Severity: m[1], Code: m[2], Message: strings.TrimSpace(m[3])}
		if pgErr.Code == "" {
			for _, c := range connectCodes {
				if regexp.MustCompile(c.re).MatchString(pgErr.Message) {
					pgErr.Code = c.code
					break
				}
			}
		}
		for _, f := range psqlField.FindAllStringSubmatch(out, -1) {
			if f[1] == "DETAIL" {
				pgErr.Detail = f[2]
			} else {
				pgErr.Hint = f[2]
			}
		}
		return pgErr
	}
	msg := strings.TrimSpace(out + "\n" + res.Stdout)
	if res.ExitCode == 126 || res.ExitCode == 127 {
		return fmt.Errorf("cannot run psql in the container (exit code %d): %s: install the PostgreSQL client there", res.ExitCode, msg)
	}
	return fmt.Errorf("psql failed with exit code %d: %s", res.ExitCode, msg)
}

// Exec implements Session.
func (s *psqlSession) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	stmts, err := splitSQL(sql)
	if err != nil {
		return 0, err
	}
	if err := checkArgs(stmts, len(args)); err != nil {
		return 0, err
	}
	text, sets := sql, ""
	if len(args) > 0 {
		if text, sets, err = bindVariables(stmts[0], args); err != nil {
			return 0, err
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(stmts[len(stmts)-1].text), ";") {
		text += "\n;"
	}

	script := sets + "\\o /dev/null\n" + text + "\n\\o\n\\echo " + rowCountMarker + ":ROW_COUNT\n"
	out, err := s.run(ctx, s.spec.Database, script)
	if err != nil {
		return 0, err
	}
	i := strings.LastIndex(out, rowCountMarker)
	if i < 0 {
		return 0, fmt.Errorf("psql printed no row count: %q", out)
	}
	return strconv.ParseInt(strings.TrimSpace(out[i+len(rowCountMarker):]), 10, 64)
}

// Query implements Session. psql's \gdesc describes the statement without
// running it. Then the statement runs inside a WITH clause that returns each
// row as the text of a record, and parseRecord splits that text into the
// server's text output of each column.
func (s *psqlSession) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	stmts, err := splitSQL(sql)
	if err != nil {
		return nil, err
	}
	if len(stmts) > 1 {
		return nil, fmt.Errorf("a query must be one statement, got %d statements", len(stmts))
	}
	if err := checkArgs(stmts, len(args)); err != nil {
		return nil, err
	}
	text, sets, err := bindVariables(stmts[0], args)
	if err != nil {
		return nil, err
	}
	text = strings.TrimSuffix(strings.TrimSpace(text), ";")

	script := sets + "\\pset fieldsep_zero on\n\\pset recordsep_zero on\n" +
		text + "\n\\gdesc\n\\echo " + strings.TrimSuffix(rowsMarker, "\n") + "\n" +
		"with cocalcctl_q as (\n" + text + "\n) select pg_catalog.json_agg(cocalcctl_q::text) from cocalcctl_q\n\\g\n"
	out, err := s.run(ctx, s.spec.Database, script)
	if err != nil {
		// A statement without rows cannot stand in a WITH clause.
		if strings.HasPrefix(out, "The command has no result") {
			return nil, ErrNoRows
		}
		return nil, err
	}
	return parsePsqlQuery(out)
}

// parsePsqlQuery reads the output of Query's script: the column names and
// types from \gdesc, separated by NUL bytes, a marker line, then a JSON
// array of record texts (or nothing for no rows).
func parsePsqlQuery(out string) (*Result, error) {
	desc, data, ok := strings.Cut(out, rowsMarker)
	if !ok {
		return nil, fmt.Errorf("cannot read psql's output: %q", out)
	}
	if strings.HasPrefix(desc, "The command has no result") {
		return nil, ErrNoRows
	}
	fields := strings.Split(strings.TrimSuffix(desc, "\x00"), "\x00")
	if len(fields)%2 != 0 {
		return nil, fmt.Errorf("cannot read psql's column description: %q", desc)
	}
	res := &Result{}
	var types []ColumnType
	for i := 0; i < len(fields); i += 2 {
		res.Columns = append(res.Columns, fields[i])
		types = append(types, typeOfName(fields[i+1]))
	}
	if err := checkColumns(res.Columns); err != nil {
		return nil, err
	}

	data = strings.TrimRight(data, "\x00\n")
	if data == "" {
		return res, nil
	}
	var records []string
	if err := json.Unmarshal([]byte(data), &records); err != nil {
		return nil, fmt.Errorf("cannot read psql's rows: %w", err)
	}
	for _, rec := range records {
		texts, err := parseRecord(rec)
		if err != nil {
			return nil, err
		}
		if len(texts) != len(res.Columns) {
			return nil, fmt.Errorf("a row has %d values for %d columns", len(texts), len(res.Columns))
		}
		row := make([]any, len(texts))
		for i, t := range texts {
			if t == nil {
				continue
			}
			if row[i], err = decodeText(*t, types[i]); err != nil {
				return nil, fmt.Errorf("column %q: %w", res.Columns[i], err)
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// Login implements Session: psql logs in over the Unix socket, where the
// password is not what authenticates, so it cannot check one.
func (s *psqlSession) Login(ctx context.Context, user, password string) error {
	return ErrNotAvailable
}

// OpenDatabase implements Session.
func (s *psqlSession) OpenDatabase(ctx context.Context, name string) (Session, error) {
	other := &psqlSession{spec: s.spec}
	other.spec.Database = name
	if _, err := other.Query(ctx, sqlPing); err != nil {
		return nil, err
	}
	return other, nil
}

// Info implements Session.
func (s *psqlSession) Info() Info {
	return Info{Kind: "local", User: s.spec.User, Database: s.spec.Database, Where: s.spec.Container}
}

// Close implements Session.
func (s *psqlSession) Close() error {
	s.closed = true
	return nil
}

// OpenLocal opens a psql session in a container as postgres.local does, for
// Go callers such as tests.
func OpenLocal(ctx context.Context, engine docker.Engine, container, user, database string) (Session, error) {
	return (&realBackend{}).Local(ctx, &LocalSpec{Container: container, User: user, Database: database, Engine: engine})
}
