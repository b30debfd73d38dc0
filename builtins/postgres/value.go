package postgres

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// SessionValue is a Session as a Starlark value, with the methods exec,
// query and close.
type SessionValue struct {
	Session Session
	closed  bool
}

var _ starlark.HasAttrs = (*SessionValue)(nil)

func (v *SessionValue) String() string {
	i := v.Session.Info()
	if i.Kind == "local" {
		return fmt.Sprintf("postgres.local(%q, user=%q, database=%q)", i.Where, i.User, i.Database)
	}
	return fmt.Sprintf("postgres.session(%q)", i.String())
}
func (v *SessionValue) Type() string         { return "postgres.session" }
func (v *SessionValue) Freeze()              {}
func (v *SessionValue) Truth() starlark.Bool { return starlark.True }
func (v *SessionValue) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: postgres.session")
}

// Attr implements starlark.HasAttrs.
func (v *SessionValue) Attr(name string) (starlark.Value, error) {
	info := v.Session.Info()
	switch name {
	case "exec":
		return starlark.NewBuiltin("session.exec", v.exec), nil
	case "query":
		return starlark.NewBuiltin("session.query", v.query), nil
	case "close":
		return starlark.NewBuiltin("session.close", v.close), nil
	case "user":
		return starlark.String(info.User), nil
	case "database":
		return starlark.String(info.Database), nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (v *SessionValue) AttrNames() []string {
	return []string{"close", "database", "exec", "query", "user"}
}

func (v *SessionValue) exec(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	sql, rest, err := unpackSQL(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	call := runtime.RenderCall("session.exec", args, nil)
	return runExec(thread, b.Name(), call, v.Session, sql, rest)
}

func (v *SessionValue) query(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	sql, rest, err := unpackSQL(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	return runQuery(thread, b.Name(), v.Session, sql, rest)
}

func (v *SessionValue) close(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if !v.closed {
		v.closed = true
		if err := v.Session.Close(); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	return starlark.None, nil
}

// unpackSQL reads (sql, *args) with no keyword arguments.
func unpackSQL(name string, args starlark.Tuple, kwargs []starlark.Tuple) (string, starlark.Tuple, error) {
	if len(kwargs) > 0 {
		return "", nil, fmt.Errorf("%s: takes no keyword arguments: pass the SQL text and then the values of $1, $2, ... in order", name)
	}
	if len(args) == 0 {
		return "", nil, fmt.Errorf("%s: missing argument sql", name)
	}
	sql, ok := starlark.AsString(args[0])
	if !ok {
		return "", nil, fmt.Errorf("%s: sql must be a string, got %s", name, args[0].Type())
	}
	return sql, args[1:], nil
}

// runExec runs sql as a step that reports ran (would run under --dry-run)
// and returns the number of rows the last statement affected.
func runExec(thread *starlark.Thread, name, call string, s Session, sql string, args starlark.Tuple) (starlark.Value, error) {
	goArgs, err := toGoArgs(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	env := runtime.EnvOf(thread)
	step := runtime.BeginCall(thread, call)
	if env.DryRun {
		step.Report(runtime.Ran, "")
		return runtime.NewUnknown(thread, call), nil
	}
	n, err := s.Exec(env.Ctx, sql, goArgs...)
	if err != nil {
		return nil, step.Fail(fmt.Errorf("%s: %w", name, explainSQL(err)))
	}
	step.Report(runtime.Ran, "")
	return starlark.MakeInt64(n), nil
}

// runQuery runs a query, also under --dry-run, where the session is
// read-only, and returns the rows as a list of dicts.
func runQuery(thread *starlark.Thread, name string, s Session, sql string, args starlark.Tuple) (starlark.Value, error) {
	goArgs, err := toGoArgs(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res, err := s.Query(runtime.EnvOf(thread).Ctx, sql, goArgs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, explainSQL(err))
	}
	return rowsValue(res), nil
}

// rowsValue converts a Result to a list of dicts keyed by column name.
func rowsValue(res *Result) *starlark.List {
	rows := make([]starlark.Value, 0, len(res.Rows))
	for _, r := range res.Rows {
		d := starlark.NewDict(len(res.Columns))
		for i, c := range res.Columns {
			_ = d.SetKey(starlark.String(c), toStarlark(r[i]))
		}
		rows = append(rows, d)
	}
	return starlark.NewList(rows)
}

// toStarlark converts a result value to Starlark.
func toStarlark(v any) starlark.Value {
	switch v := v.(type) {
	case nil:
		return starlark.None
	case bool:
		return starlark.Bool(v)
	case int64:
		return starlark.MakeInt64(v)
	case int:
		return starlark.MakeInt(v)
	case float64:
		return starlark.Float(v)
	case string:
		return starlark.String(v)
	case []byte:
		return starlark.Bytes(v)
	case []any:
		elems := make([]starlark.Value, len(v))
		for i, e := range v {
			elems[i] = toStarlark(e)
		}
		return starlark.NewList(elems)
	}
	return starlark.String(fmt.Sprint(v))
}

func toGoArgs(args starlark.Tuple) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		v, err := toGo(a)
		if err != nil {
			return nil, fmt.Errorf("argument $%d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// toGo converts a Starlark argument to the Go value a Session sends.
func toGo(v starlark.Value) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		if n, ok := v.Int64(); ok {
			return n, nil
		}
		return v.String(), nil
	case starlark.Float:
		return float64(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Bytes:
		return []byte(v), nil
	case *secret.Secret:
		return v.Reveal(), nil
	case *runtime.Unknown:
		return nil, fmt.Errorf("%s is known only after apply and cannot be sent under --dry-run", v.Name)
	case *starlark.List:
		return listToGo(v.Len(), v.Index)
	case starlark.Tuple:
		return listToGo(len(v), func(i int) starlark.Value { return v[i] })
	}
	return nil, fmt.Errorf("cannot send a %s; send None, a bool, int, float, string, bytes, secret or a list of them", v.Type())
}

func listToGo(n int, index func(int) starlark.Value) (any, error) {
	out := make([]any, n)
	for i := range n {
		e, err := toGo(index(i))
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}
