package postgres

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Inspect returns the fake's servers and its set-up methods as a Starlark
// value, for testing.fake("postgres") in script tests; it implements
// scripttest.Inspector. Attributes are read when a test accesses them, so a
// value kept across testing.run calls shows the current state.
func (f *Fake) Inspect(thread *starlark.Thread) (starlark.Value, error) {
	return &fakeView{fake: f}, nil
}

// fakeView is the Starlark face of a Fake; docs/testing.md lists its
// attributes.
type fakeView struct{ fake *Fake }

var _ starlark.HasAttrs = (*fakeView)(nil)

func (v *fakeView) String() string        { return "<postgres fake>" }
func (v *fakeView) Type() string          { return "postgres.fake" }
func (v *fakeView) Freeze()               {}
func (v *fakeView) Truth() starlark.Bool  { return starlark.True }
func (v *fakeView) Hash() (uint32, error) { return 0, errors.New("unhashable type: postgres.fake") }

// AttrNames implements starlark.HasAttrs.
func (v *fakeView) AttrNames() []string {
	return []string{"add_server", "register", "register_error", "register_exec", "server", "servers"}
}

// Attr implements starlark.HasAttrs.
func (v *fakeView) Attr(name string) (starlark.Value, error) {
	f := v.fake
	switch name {
	case "servers":
		names := f.Servers()
		out := starlark.NewDict(len(names))
		for _, n := range names {
			out.SetKey(starlark.String(n), f.Server(n).view())
		}
		return out, nil
	case "server":
		return starlark.NewBuiltin("fake.server", f.serverMethod), nil
	case "add_server":
		return starlark.NewBuiltin("fake.add_server", f.addServerMethod), nil
	case "register":
		return starlark.NewBuiltin("fake.register", f.registerMethod), nil
	case "register_exec":
		return starlark.NewBuiltin("fake.register_exec", f.registerExecMethod), nil
	case "register_error":
		return starlark.NewBuiltin("fake.register_error", f.registerErrorMethod), nil
	}
	return nil, nil
}

// serverMethod is fake.server(name): the server of a container or address,
// which must exist.
func (f *Fake) serverMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	s, err := f.existing(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return s.view(), nil
}

func (f *Fake) existing(name string) (*FakeServer, error) {
	f.mu.Lock()
	s, ok := f.servers[name]
	f.mu.Unlock()
	if !ok {
		names := f.Servers()
		if len(names) == 0 {
			return nil, fmt.Errorf("no server %q: the fake has none yet; postgres.local creates one for a running container with a data folder", name)
		}
		return nil, fmt.Errorf("no server %q: the servers are %s", name, strings.Join(names, ", "))
	}
	return s, nil
}

// addServerMethod is fake.add_server(name): a server that postgres.connect
// reaches at name ("host:port" or a socket folder), or postgres.local in
// the container name.
func (f *Fake) addServerMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	return f.Server(name).view(), nil
}

// registerMethod is fake.register(sql, rows=[], columns=None,
// server=None): the rows (a list of dicts) that a query of sql returns, on
// one server or on every server. columns gives the column order, and the
// columns of a result without rows.
func (f *Fake) registerMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sql     string
		rows    *starlark.List
		columns *starlark.List
		server  string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "sql", &sql, "rows?", &rows, "columns??", &columns, "server??", &server); err != nil {
		return nil, err
	}

	res, err := resultOf(rows, columns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if server == "" {
		f.Register(sql, res)
		return starlark.None, nil
	}
	s, err := f.existing(server)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.Register(sql, res)
	return starlark.None, nil
}

// resultOf converts the rows and columns of fake.register.
func resultOf(rows, columns *starlark.List) (*Result, error) {
	res := &Result{}
	if columns != nil {
		for i := range columns.Len() {
			c, ok := starlark.AsString(columns.Index(i))
			if !ok {
				return nil, fmt.Errorf("columns[%d] is %s, want a string", i, columns.Index(i).Type())
			}
			res.Columns = append(res.Columns, c)
		}
	}
	if rows == nil {
		return res, nil
	}
	for i := range rows.Len() {
		row, ok := rows.Index(i).(*starlark.Dict)
		if !ok {
			return nil, fmt.Errorf("rows[%d] is %s, want a dict of column to value", i, rows.Index(i).Type())
		}
		if res.Columns == nil {
			for _, k := range row.Keys() {
				c, ok := starlark.AsString(k)
				if !ok {
					return nil, fmt.Errorf("rows[%d] has the key %s, want column names", i, k)
				}
				res.Columns = append(res.Columns, c)
			}
		}
		if row.Len() != len(res.Columns) {
			return nil, fmt.Errorf("rows[%d] has %d columns, want %d (%s)", i, row.Len(), len(res.Columns), strings.Join(res.Columns, ", "))
		}
		values := make([]any, len(res.Columns))
		for j, c := range res.Columns {
			v, found, _ := row.Get(starlark.String(c))
			if !found {
				return nil, fmt.Errorf("rows[%d] has no column %q", i, c)
			}
			goValue, err := toGo(v)
			if err != nil {
				return nil, fmt.Errorf("rows[%d][%q]: %w", i, c, err)
			}
			values[j] = goValue
		}
		res.Rows = append(res.Rows, values)
	}
	return res, nil
}

// registerExecMethod is fake.register_exec(sql, rows=0, server=None): sql
// is a statement that returns no rows and affects rows rows.
func (f *Fake) registerExecMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sql    string
		rows   int
		server string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "sql", &sql, "rows?", &rows, "server??", &server); err != nil {
		return nil, err
	}
	if server == "" {
		f.RegisterExec(sql, int64(rows))
		return starlark.None, nil
	}
	s, err := f.existing(server)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.RegisterExec(sql, int64(rows))
	return starlark.None, nil
}

// registerErrorMethod is fake.register_error(sql, code, message,
// server=None): sql fails with a server error of SQLSTATE code.
func (f *Fake) registerErrorMethod(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var sql, code, message, server string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "sql", &sql, "code", &code, "message", &message, "server??", &server); err != nil {
		return nil, err
	}
	if len(code) != 5 {
		return nil, fmt.Errorf("%s: code %q is not an SQLSTATE: want five characters such as \"42P01\"", b.Name(), code)
	}
	if server == "" {
		f.mu.Lock()
		f.results[normalizeSQL(sql)] = fakeResult{err: pgError(code, "%s", message)}
		f.mu.Unlock()
		return starlark.None, nil
	}
	s, err := f.existing(server)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.RegisterError(sql, code, message)
	return starlark.None, nil
}

// serverView is the Starlark face of one FakeServer.
type serverView struct{ s *FakeServer }

var _ starlark.HasAttrs = (*serverView)(nil)

func (s *FakeServer) view() *serverView { return &serverView{s: s} }

func (v *serverView) String() string       { return fmt.Sprintf("<postgres fake server %q>", v.s.Where) }
func (v *serverView) Type() string         { return "postgres.fake_server" }
func (v *serverView) Freeze()              {}
func (v *serverView) Truth() starlark.Bool { return starlark.True }
func (v *serverView) Hash() (uint32, error) {
	return 0, errors.New("unhashable type: postgres.fake_server")
}

// AttrNames implements starlark.HasAttrs.
func (v *serverView) AttrNames() []string {
	return []string{"databases", "executed", "grants", "hba", "name", "roles", "settings", "ssl_loaded"}
}

func newStruct(fields starlark.StringDict) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields)
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Attr implements starlark.HasAttrs.
func (v *serverView) Attr(name string) (starlark.Value, error) {
	s := v.s
	if name == "executed" {
		var out []starlark.Value
		for _, sql := range s.Executed() {
			out = append(out, starlark.String(sql))
		}
		return starlark.NewList(out), nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch name {
	case "name":
		return starlark.String(s.Where), nil
	case "ssl_loaded":
		return starlark.Bool(s.sslLoaded), nil
	case "roles":
		out := starlark.NewDict(len(s.Roles))
		for _, n := range sortedNames(s.Roles) {
			r := s.Roles[n]
			out.SetKey(starlark.String(n), newStruct(starlark.StringDict{
				"superuser":    starlark.Bool(r.Superuser),
				"createrole":   starlark.Bool(r.CreateRole),
				"createdb":     starlark.Bool(r.CreateDB),
				"login":        starlark.Bool(r.Login),
				"has_password": starlark.Bool(r.Password != ""),
			}))
		}
		return out, nil
	case "databases":
		out := starlark.NewDict(len(s.Databases))
		for _, n := range sortedNames(s.Databases) {
			d := s.Databases[n]
			out.SetKey(starlark.String(n), newStruct(starlark.StringDict{
				"owner":    starlark.String(d.Owner),
				"encoding": starlark.String(d.Encoding),
			}))
		}
		return out, nil
	case "grants":
		var grants []FakeGrant
		for g, ok := range s.Grants {
			if ok {
				grants = append(grants, g)
			}
		}
		sort.Slice(grants, func(i, j int) bool {
			return fmt.Sprint(grants[i]) < fmt.Sprint(grants[j])
		})
		out := make([]starlark.Value, len(grants))
		for i, g := range grants {
			out[i] = newStruct(starlark.StringDict{
				"kind":      starlark.String(g.Kind),
				"object":    starlark.String(g.Object),
				"database":  starlark.String(g.Database),
				"role":      starlark.String(g.Role),
				"privilege": starlark.String(g.Privilege),
			})
		}
		return starlark.NewList(out), nil
	case "settings":
		out := starlark.NewDict(len(s.Settings))
		for _, n := range sortedNames(s.Settings) {
			set := s.Settings[n]
			out.SetKey(starlark.String(n), newStruct(starlark.StringDict{
				"value":           starlark.String(set.Value),
				"file":            starlark.String(set.File),
				"context":         starlark.String(set.Context),
				"pending_restart": starlark.Bool(set.PendingRestart),
			}))
		}
		return out, nil
	case "hba":
		out := make([]starlark.Value, len(s.HBA))
		for i, e := range s.HBA {
			out[i] = newStruct(starlark.StringDict{
				"type":     starlark.String(e.Type),
				"database": starlark.String(e.Database),
				"user":     starlark.String(e.User),
				"address":  starlark.String(e.Address),
				"method":   starlark.String(e.Method),
				"options":  starlark.String(e.Options),
			})
		}
		return starlark.NewList(out), nil
	}
	return nil, nil
}
