package cocalc

import (
	"fmt"
	"net"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Modules holds the other modules the cocalc builtins call through Starlark
// (docker for containers), so that this package depends on their documented
// Starlark interface only. builtins/all sets it.
var Modules = map[string]*starlarkstruct.Module{}

// callBuiltin calls module.member with args and kwargs as a script would, so
// the call is a step of its own with its own line.
func callBuiltin(thread *starlark.Thread, module, member string, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	m, ok := Modules[module]
	if !ok {
		return nil, fmt.Errorf("internal error: the cocalc module has no access to the %s module", module)
	}
	fn, ok := m.Members[member]
	if !ok {
		return nil, fmt.Errorf("internal error: the %s module has no %s", module, member)
	}
	return starlark.Call(thread, fn, args, kwargs)
}

// query calls session.query(sql, *args) and returns the rows as dicts.
func query(thread *starlark.Thread, session starlark.Value, sql string, args ...starlark.Value) ([]*starlark.Dict, error) {
	attrs, ok := session.(starlark.HasAttrs)
	if !ok {
		return nil, fmt.Errorf("got %s, want a postgres session from postgres.connect or postgres.local", session.Type())
	}
	method, err := attrs.Attr("query")
	if err != nil || method == nil {
		return nil, fmt.Errorf("got %s, want a postgres session from postgres.connect or postgres.local", session.Type())
	}
	result, err := starlark.Call(thread, method, append(starlark.Tuple{starlark.String(sql)}, args...), nil)
	if err != nil {
		return nil, err
	}
	if runtime.IsUnknown(result) {
		return nil, nil
	}
	list, ok := result.(*starlark.List)
	if !ok {
		return nil, fmt.Errorf("session.query returned %s, want a list of rows", result.Type())
	}
	var rows []*starlark.Dict
	for i := 0; i < list.Len(); i++ {
		row, ok := list.Index(i).(*starlark.Dict)
		if !ok {
			return nil, fmt.Errorf("session.query returned a row of type %s, want a dict", list.Index(i).Type())
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func field(row *starlark.Dict, name string) starlark.Value {
	v, found, _ := row.Get(starlark.String(name))
	if !found {
		return starlark.None
	}
	return v
}

func fieldString(row *starlark.Dict, name string) string {
	switch v := field(row, name).(type) {
	case starlark.String:
		return string(v)
	case starlark.NoneType:
		return ""
	case *starlark.List:
		var parts []string
		for i := 0; i < v.Len(); i++ {
			if s, ok := v.Index(i).(starlark.String); ok {
				parts = append(parts, string(s))
			}
		}
		return strings.Join(parts, ",")
	default:
		return v.String()
	}
}

// checkReach reads pg_hba_file_rules through admin and reports a problem when
// the first rule that matches pguser on a TCP connection to the database or
// to postgres rejects it or is missing.
func checkReach(thread *starlark.Thread, admin starlark.Value, cfg dbConfig) ([]string, error) {
	rows, err := query(thread, admin, "select line_number, type, database, user_name, address, netmask, auth_method from pg_hba_file_rules where error is null order by line_number")
	if err != nil {
		return nil, fmt.Errorf("cannot read pg_hba_file_rules through admin (it needs a superuser session such as postgres.local): %w", err)
	}
	if len(rows) == 0 && runtime.EnvOf(thread).DryRun {
		// The server only would have been created: there is nothing to read.
		return nil, nil
	}

	var problems []string
	for _, db := range []string{cfg.Database, "postgres"} {
		rule := firstMatch(rows, cfg, db)
		switch {
		case rule == nil:
			problems = append(problems, fmt.Sprintf("pg_hba.conf has no rule that admits role %q to database %q over TCP; "+
				"the hub connects to %q and its start-up check to \"postgres\"; add a line such as `%s %s %s all %s`",
				cfg.User, db, cfg.Database, hbaType(cfg), db, cfg.User, hbaMethod(cfg)))
		case fieldString(rule, "auth_method") == "reject":
			problems = append(problems, fmt.Sprintf("pg_hba.conf line %s rejects role %q on database %q; put an accepting line before it",
				field(rule, "line_number").String(), cfg.User, db))
		}
	}
	return problems, nil
}

func hbaType(cfg dbConfig) string {
	if cfg.tls() {
		return "hostssl"
	}
	return "host"
}

func hbaMethod(cfg dbConfig) string {
	if cfg.Auth == "cert" {
		return "cert"
	}
	return "scram-sha-256"
}

func firstMatch(rows []*starlark.Dict, cfg dbConfig, db string) *starlark.Dict {
	for _, row := range rows {
		typ := fieldString(row, "type")
		switch typ {
		case "host":
		case "hostssl":
			if !cfg.tls() {
				continue
			}
		case "hostnossl":
			if cfg.tls() {
				continue
			}
		default:
			continue
		}
		if !matchList(fieldString(row, "database"), db, "all", "sameuser", cfg.User == db) {
			continue
		}
		if !matchList(fieldString(row, "user_name"), cfg.User, "all", "", false) {
			continue
		}
		if !fromNetwork(fieldString(row, "address"), fieldString(row, "netmask")) {
			continue
		}
		return row
	}
	return nil
}

func matchList(list, name, all, same string, sameOK bool) bool {
	for _, item := range strings.Split(list, ",") {
		item = strings.Trim(strings.TrimSpace(item), "{}\"")
		if item == name || item == all || (same != "" && item == same && sameOK) {
			return true
		}
	}
	return false
}

// fromNetwork reports whether a pg_hba rule's address can match the hub,
// which connects from another container on the Docker network: loopback
// addresses (initdb's default 127.0.0.1/32 and ::1/128 lines) and
// "samehost" never do. Other addresses are assumed to match, because the
// hub's own address is not known before it starts.
func fromNetwork(address, netmask string) bool {
	switch address {
	case "samehost":
		return false
	case "", "all", "samenet":
		return true
	}
	ip := net.ParseIP(address)
	if ip == nil {
		// A host name: the hub's address may resolve to it.
		return true
	}
	if !ip.IsLoopback() {
		return true
	}
	// A loopback address with a netmask of /0 would still match everything.
	if mask := net.ParseIP(netmask); mask != nil && mask.IsUnspecified() {
		return true
	}
	return false
}
