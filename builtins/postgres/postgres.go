// Package postgres is the Starlark module `postgres`: sessions to a
// PostgreSQL server over pgx or through psql inside a container, and
// idempotent helpers for roles, databases, grants and settings.
package postgres

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Module declares the postgres module.
var Module = runtime.Module{
	Name: "postgres",
	Doc: "PostgreSQL: sessions and idempotent helpers. A session comes from `postgres.connect` (over the network " +
		"with pgx) or `postgres.local` (psql inside a container, as the superuser over its Unix socket). Both " +
		"return rows as lists of dicts with the same values: int, float, bool, string, bytes, None and lists for " +
		"arrays; numeric, UUID, timestamp and other types come as the server's text. Values are always bound as " +
		"parameters `$1`, `$2`, ...; identifiers in generated statements are always quoted. Known failures " +
		"(certificate names, pg_hba.conf, wrong passwords, a starting server) end with a `hint:` line that names " +
		"the cause and the fix.",
	Builtins: []runtime.Builtin{
		{Name: "postgres.connect", Fn: connectBuiltin, Doc: docConnect},
		{Name: "postgres.local", Fn: local, Doc: docLocal},
		{Name: "postgres.exec", Fn: execBuiltin, Doc: docExec},
		{Name: "postgres.query", Fn: queryBuiltin, Doc: docQuery},
		{Name: "session.exec", Doc: docSessionExec},
		{Name: "session.query", Doc: docSessionQuery},
		{Name: "session.close", Doc: "session.close()\n\nCloses the session. Sessions still open when the run ends are closed then."},
		{Name: "postgres.role", Fn: role, Doc: docRole},
		{Name: "postgres.database", Fn: database, Doc: docDatabase},
		{Name: "postgres.grant", Fn: grant, Doc: docGrant},
		{Name: "postgres.setting", Fn: setting, Doc: docSetting},
		{Name: "postgres.hba", Fn: hba, Doc: docHBA},
		{Name: "postgres.conf", Fn: conf, Doc: docConf},
		{Name: "postgres.wait", Fn: wait, Doc: docWait},
		{Name: "postgres.log_hint", Fn: logHint, Doc: docLogHint},
		{Name: "postgres.listen_notify", Fn: listenNotify, Doc: docListenNotify},
		{Name: "postgres.can_login", Fn: canLogin, Doc: docCanLogin},
	},
}

const docConnect = `postgres.connect(dsn=None, host=None, port=5432, user=None, database=None, password=None, password_file=None, sslmode="prefer", sslrootcert=None, sslcert=None, sslkey=None, sslkey_passphrase=None, server_name=None, connect_timeout=10)

Opens a session over the network (or a Unix socket when host is a folder) with pgx.

Settings come, in this order of precedence, from the keyword arguments, from dsn (a libpq URI
such as ` + "`postgresql://app@db.example:5432/app?sslmode=verify-full`" + ` or a keyword/value string
such as ` + "`host=db dbname=app`" + `), from the libpq environment variables PGHOST, PGPORT, PGUSER,
PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY, and from libpq's defaults (the
socket folder /var/run/postgresql when it exists, else localhost; the current user; a database
named like the user; sslmode "prefer"). PGPASSWORD, PGPASSFILE and ~/.pgpass are not read.

The password comes from password (a secret, for example ` + "`secret.file(path)`" + `) or from
password_file (a file with mode 0600 holding it); a DSN that holds a password is an error. Passwords
may hold any character.

sslmode has libpq's meaning: disable (no TLS), allow (plain first, then TLS), prefer (TLS first,
then plain), require (TLS without verification, but with sslrootcert it verifies the chain as
verify-ca does), verify-ca (the chain must lead to sslrootcert), verify-full (the chain, and the
certificate must name the host). sslrootcert="system" uses the system's CAs and implies
verify-full; without sslrootcert, verification reads ~/.postgresql/root.crt as libpq does.
server_name checks the certificate against that name while dialling host, for a server in a
container whose name this machine cannot resolve. sslcert and sslkey are a client certificate
and its key (PKCS#8, SEC 1 or PKCS#1 PEM; an encrypted PKCS#8 key needs sslkey_passphrase);
the key file must not be readable by group or others.

connect_timeout is in seconds (0 waits without limit). Under --dry-run the session is opened
too, with every transaction read-only.`

const docLocal = `postgres.local(container, user="postgres", database=None)

Returns a session that runs each statement through psql inside a running container, over the
server's Unix socket, as the tutorial does for the superuser: no password leaves the container.
database defaults to the user's name, as in psql.

Arguments are sent to psql on its standard input as psql variables and used as ` + "`:'name'`" + `
literals, so they never appear in the SQL text or in the container's process list. Rows come
back typed as over postgres.connect. Needs the Docker engine (see the docker module).`

const docExec = `postgres.exec(session_or_dsn, sql, *args)

Runs sql, like ` + "`session.exec`" + `. The first argument is a session or a DSN; a DSN opens a
session for this call only (with no password, so for peer, trust or certificate logins).`

const docQuery = `postgres.query(session_or_dsn, sql, *args)

Runs a query and returns its rows, like ` + "`session.query`" + `, on a session or a DSN.`

const docSessionExec = `session.exec(sql, *args)

A step that runs sql and returns the number of rows the last statement affected. Without
arguments sql may hold several statements; each runs in its own transaction unless sql opens
one, as psql runs a script. With arguments, sql is one statement and uses $1, $2, ... for them:
None, bool, int, float, string, bytes, a secret, or a list of those for an array. Arguments
are sent as text of unknown type, so write a cast ($1::text) where the server cannot infer one.
The step reports ran, or would run under --dry-run, where nothing is sent and the result is
(known after apply).`

const docSessionQuery = `session.query(sql, *args)

Runs one statement that returns rows (SELECT, VALUES, TABLE, or INSERT/UPDATE/DELETE with
RETURNING) and returns a list of dicts, one per row, keyed by column name; two columns with the
same name are an error. Arguments work as in exec. It is not a step and also runs under
--dry-run, where the session is read-only, so use it only to read.`

const docRole = `postgres.role(session, name, login=True, createdb=False, createrole=False, password=None, superuser=False)

A step that makes sure role name exists with these attributes. A password (a secret) is sent as
a SCRAM-SHA-256 verifier computed here (PBKDF2-SHA256, 4096 iterations, random salt), so the
plain password never reaches the server or its logs. An existing role is changed only where it
differs. Its password is checked by recomputing the stored verifier when the session can read
pg_authid (a superuser), and otherwise by logging in as the role over the same host and TLS
settings, as a managed database's administrator must. password=None leaves the password as it
is.`

const docDatabase = `postgres.database(session, name, owner=None, encoding="UTF8", template="template0")

A step that makes sure database name exists, created with this owner, encoding and template. An
existing database with another owner or encoding is drift, and the run stops there: nothing is
dropped. On a managed database the session's role must be a member of owner.`

const docGrant = `postgres.grant(session, privileges, on_database=None, on_schema=None, to, database=None)

A step that makes sure role to has privileges on a database (CONNECT, CREATE, TEMPORARY) or on
a schema (USAGE, CREATE); privileges is one name or a list, and "ALL" means all of them. Each
privilege is checked with has_database_privilege or has_schema_privilege, and only missing ones
are granted. A schema belongs to database (default: the session's database); PostgreSQL 15 and
later no longer let every role create tables in schema public, so grant CREATE on it, or make
the role the database's owner.`

const docSetting = `postgres.setting(session, name, value)

A step that makes sure server setting name has value (a string such as "256MB", a bool, an int
or a float), with ALTER SYSTEM and pg_reload_conf(). Values with units are compared in the
setting's unit, so "128MB" matches shared_buffers 16384 (8kB pages). A setting that only
a restart applies is reported with "takes effect after the server restarts", and a rerun before
that restart gives a warning instead of another change.`

const docHBA = `postgres.hba(container, type, database, user, address=None, method="scram-sha-256", options=[], path=None, reload=True, state="present")

A step that makes sure pg_hba.conf of the server in container has the line
` + "`type database user address method options...`" + ` exactly once and before the first catch-all
line (database and user both "all"), where it takes effect. A line for the same type, database,
user and address is replaced; one below a catch-all is moved above it. type is local, host,
hostssl, hostnossl, hostgssenc or hostnogssenc; local lines take no address. The file is found
with current_setting('hba_file') through psql in the container unless path is given; it keeps
its owner and mode. After a change the server reloads (reload=False skips that).

state="absent" removes every line for the same type, database, user and address, whatever its
method, for example the password lines of a server that moves to certificate authentication.`

const docConf = `postgres.conf(container, name, value, path=None, reload=True)

A step that makes sure postgresql.conf of the server in container sets name to value (a
string, bool, int or float) with the line ` + "`name = 'value'`" + `: the last line that sets name,
commented out or not, is replaced, and other lines in effect that set it are removed. The file
is found with current_setting('config_file') unless path is given. After a change the server
reloads; a setting that only a restart applies says so. Settings in postgresql.auto.conf
(ALTER SYSTEM, postgres.setting) take precedence over this file.`

const docWait = `postgres.wait(dsn=None, host=None, port=5432, ..., timeout="60s")

A step that waits until the server accepts a connection and answers ` + "`select 1`" + ` (an open
port is not enough). It takes the arguments of postgres.connect, retries with a growing pause
(0.1s doubling to 2s) and fails after timeout with the last failure and its hint.`

const docLogHint = `postgres.log_hint(log)

Returns a hint for the first known failure in a server log text (for example a server key that
group or others can read, which stops PostgreSQL from starting and shows a client only a refused
connection), or None when it finds none.`

func connectBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	ca := newConnectArgs()
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, ca.pairs()...); err != nil {
		return nil, err
	}

	spec, err := ca.resolve(runtime.EnvOf(thread))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s, err := connect(thread, spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return &SessionValue{Session: s}, nil
}

// sessionArg returns the session of the first argument of postgres.exec
// and postgres.query, opening one for a DSN. close is true when the caller
// must close it.
func sessionArg(thread *starlark.Thread, name string, v starlark.Value) (s Session, close bool, err error) {
	switch v := v.(type) {
	case *SessionValue:
		return v.Session, false, nil
	case starlark.String:
		ca := newConnectArgs()
		ca.dsn = string(v)
		spec, err := ca.resolve(runtime.EnvOf(thread))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		s, err := connect(thread, spec)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		return s, true, nil
	}
	return nil, false, fmt.Errorf("%s: the first argument must be a session or a DSN, got %s", name, v.Type())
}

func execBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: missing argument session_or_dsn", b.Name())
	}
	sql, rest, err := unpackSQL(b.Name(), args[1:], kwargs)
	if err != nil {
		return nil, err
	}
	s, closeIt, err := sessionArg(thread, b.Name(), args[0])
	if err != nil {
		return nil, err
	}
	if closeIt {
		defer s.Close()
	}
	return runExec(thread, b.Name(), runtime.RenderCall(b.Name(), args, nil), s, sql, rest)
}

func queryBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: missing argument session_or_dsn", b.Name())
	}
	sql, rest, err := unpackSQL(b.Name(), args[1:], kwargs)
	if err != nil {
		return nil, err
	}
	s, closeIt, err := sessionArg(thread, b.Name(), args[0])
	if err != nil {
		return nil, err
	}
	if closeIt {
		defer s.Close()
	}
	return runQuery(thread, b.Name(), s, sql, rest)
}

func logHint(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var log string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "log", &log); err != nil {
		return nil, err
	}
	if hint := LogHint(log); hint != "" {
		return starlark.String(hint), nil
	}
	return starlark.None, nil
}
