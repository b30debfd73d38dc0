package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

// Fake is an in-memory PostgreSQL for tests and `cocalcctl test`. It keeps
// servers, each keyed by the address a ConnSpec dials (host:port, or the
// socket folder) or the container a LocalSpec names, with roles, databases
// and their owners, grants, settings and pg_hba.conf entries. It returns
// results for the catalogue queries and runs the statements that the helpers
// send. Any other SQL needs a result registered with FakeServer.Register or
// RegisterExec (or Fake.Register for every server), and otherwise fails with
// a message that says so. Install it with
// env.SetBackend(postgres.BackendKey, fake).
type Fake struct {
	// Engine, when set, holds the containers that postgres.local reaches.
	// A server in a running container is then created on first use, and it
	// reads pg_hba.conf and postgresql.conf from the container's files when
	// the container starts and when the server reloads, so that
	// postgres.hba and postgres.conf take effect as on a real server.
	// postgres.local of a container that does not run fails, or under
	// --dry-run reads as an empty server.
	Engine docker.Engine

	mu      sync.Mutex
	servers map[string]*FakeServer
	results map[string]fakeResult
}

// NewFake returns a Fake with no servers.
func NewFake() *Fake {
	return &Fake{servers: map[string]*FakeServer{}, results: map[string]fakeResult{}}
}

// Register makes Query of sql return res on every server that has no
// result of its own registered for it.
func (f *Fake) Register(sql string, res *Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[normalizeSQL(sql)] = fakeResult{result: res}
}

// RegisterExec makes sql, on every server, a statement that returns no rows
// and affects rows rows, unless the server has its own registration.
func (f *Fake) RegisterExec(sql string, rows int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[normalizeSQL(sql)] = fakeResult{rows: rows}
}

// registered returns what Register or RegisterExec stored for sql.
func (f *Fake) registered(sql string) (fakeResult, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.results[sql]
	return r, ok
}

// Servers returns the names of the servers, sorted.
func (f *Fake) Servers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.servers))
	for name := range f.servers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// defaultFiles returns where a new server keeps pg_hba.conf and
// postgresql.conf: in the data folder, as initdb makes them.
func (f *Fake) defaultFiles() map[string]string {
	return map[string]string{
		"hba_file":    "/var/lib/postgresql/data/pg_hba.conf",
		"config_file": "/var/lib/postgresql/data/postgresql.conf",
	}
}

// Server returns the server at where, creating it on first use with the
// superuser "postgres" (no password), the databases postgres, template0 and
// template1, and the settings the helpers and the tutorial touch, with
// PostgreSQL 17's defaults.
func (f *Fake) Server(where string) *FakeServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.servers[where]; ok {
		return s
	}
	s := &FakeServer{
		Where: where,
		Roles: map[string]*FakeRole{"postgres": {Superuser: true, CreateRole: true, CreateDB: true, Login: true}},
		Databases: map[string]*FakeDatabase{
			"postgres": {Owner: "postgres", Encoding: "UTF8"}, "template0": {Owner: "postgres", Encoding: "UTF8"},
			"template1": {Owner: "postgres", Encoding: "UTF8"},
		},
		Grants: map[FakeGrant]bool{},
		Settings: map[string]*FakeSetting{
			"work_mem":            {Value: "4096", Unit: "kB", Vartype: "integer", Context: "user"},
			"shared_buffers":      {Value: "16384", Unit: "8kB", Vartype: "integer", Context: "postmaster"},
			"ssl":                 {Value: "off", Vartype: "bool", Context: "sighup"},
			"log_connections":     {Value: "off", Vartype: "bool", Context: "superuser-backend"},
			"listen_addresses":    {Value: "localhost", Vartype: "string", Context: "postmaster"},
			"password_encryption": {Value: "scram-sha-256", Vartype: "enum", Context: "user"},
			"ssl_cert_file":       {Value: "server.crt", Vartype: "string", Context: "sighup"},
			"ssl_key_file":        {Value: "server.key", Vartype: "string", Context: "sighup"},
			"ssl_ca_file":         {Value: "", Vartype: "string", Context: "sighup"},
			"max_connections":     {Value: "100", Vartype: "integer", Context: "postmaster"},
			"port":                {Value: "5432", Vartype: "integer", Context: "postmaster"},
		},
		Files:    f.defaultFiles(),
		results:  map[string]fakeResult{},
		fake:     f,
		defaults: map[string]string{},
	}
	for name, set := range s.Settings {
		s.defaults[name] = set.Value
	}
	f.servers[where] = s
	return s
}

// Connect implements Backend: it opens a session on the server at
// spec.Where(), checking the role, its password, the database and the
// pg_hba.conf entries as a server would.
func (f *Fake) Connect(ctx context.Context, spec *ConnSpec) (Session, error) {
	f.mu.Lock()
	s, ok := f.servers[spec.Where()]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dial tcp %s: connect: connection refused (the fake has no server there; add one with Fake.Server(%q))", spec.Where(), spec.Where())
	}
	tlsUsed := len(spec.TLS) > 0 && spec.TLS[0] != nil
	if err := s.admit(spec.User, spec.Database, spec.Password, tlsUsed, spec.ClientCN, !strings.HasPrefix(spec.Host, "/")); err != nil {
		return nil, err
	}
	return &fakeSession{server: s, info: Info{Kind: "fake", User: spec.User, Database: spec.Database, Where: spec.Where()},
		readOnly: spec.ReadOnly, spec: spec}, nil
}

// Local implements Backend: a session on the server named like the
// container, as its superuser over the Unix socket.
func (f *Fake) Local(ctx context.Context, spec *LocalSpec) (Session, error) {
	if f.Engine != nil {
		return f.localInContainer(ctx, spec)
	}
	f.mu.Lock()
	s, ok := f.servers[spec.Container]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("container %s has no PostgreSQL server in the fake; add one with Fake.Server(%q)", spec.Container, spec.Container)
	}
	if err := s.admit(spec.User, spec.Database, "", false, "", false); err != nil {
		return nil, err
	}
	return &fakeSession{server: s, info: Info{Kind: "local", User: spec.User, Database: spec.Database, Where: spec.Container},
		readOnly: spec.ReadOnly}, nil
}

// FakeServer is one fake PostgreSQL server. Its fields are the state;
// change them only while no script runs.
type FakeServer struct {
	Where     string
	Roles     map[string]*FakeRole
	Databases map[string]*FakeDatabase
	Grants    map[FakeGrant]bool
	Settings  map[string]*FakeSetting

	// HBA lists pg_hba.conf entries, checked in order when a session opens;
	// with none, every connection is admitted.
	HBA []FakeHBA

	// Files maps hba_file and config_file to their paths in the container,
	// as current_setting returns them.
	Files map[string]string

	// Starting makes every connection fail with SQLSTATE 57P03, as a server
	// that is starting up.
	Starting bool

	mu       sync.Mutex
	executed []string
	results  map[string]fakeResult
	fake     *Fake

	// engine and container are set when the server runs in a container
	// of Fake.Engine; startedAt is the container's start that the server
	// last read its files at.
	engine    docker.Engine
	container string
	startedAt time.Time
	sslLoaded bool

	// defaults holds each setting's value when no file sets it.
	defaults map[string]string
}

// FakeRole is a role of a FakeServer. Password is the SCRAM verifier, or
// empty for none.
type FakeRole struct {
	Superuser, CreateRole, CreateDB, Login bool
	Password                               string
}

// FakeDatabase is a database of a FakeServer.
type FakeDatabase struct {
	Owner, Encoding string
}

// FakeGrant is one granted privilege. Database is set for schema grants.
type FakeGrant struct {
	Kind      string // "DATABASE" or "SCHEMA"
	Object    string
	Database  string
	Role      string
	Privilege string
}

// FakeSetting is a server setting: Value is what pg_settings shows, File
// what ALTER SYSTEM wrote to postgresql.auto.conf ("" for nothing).
type FakeSetting struct {
	Value, Unit, Vartype, Context string
	File                          string
	PendingRestart                bool
}

// FakeHBA is one pg_hba.conf line: Type is local, host, hostssl or
// hostnossl; Database and User are "all" or comma-separated names (Database
// also "sameuser"); Method is trust, reject, scram-sha-256, password, md5,
// cert or peer. Address and Options are kept for pg_hba_file_rules.
//
// NOTE: the fake does not know client addresses, so Address matches every
// connection.
type FakeHBA struct {
	Type, Database, User, Method string
	Address, Options             string
}

type fakeResult struct {
	result *Result
	rows   int64
	err    error
}

// Register makes Query of sql (compared with runs of white space collapsed)
// return res.
func (s *FakeServer) Register(sql string, res *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[normalizeSQL(sql)] = fakeResult{result: res}
}

// RegisterExec makes sql a statement that returns no rows and affects rows
// rows; Query of it returns ErrNoRows.
func (s *FakeServer) RegisterExec(sql string, rows int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[normalizeSQL(sql)] = fakeResult{rows: rows}
}

// RegisterError makes sql fail with a server error of SQLSTATE code.
func (s *FakeServer) RegisterError(sql, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[normalizeSQL(sql)] = fakeResult{err: &pgconn.PgError{Severity: "ERROR", Code: code, Message: message}}
}

// Executed returns every statement the server ran, in order, with runs of
// white space collapsed.
func (s *FakeServer) Executed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.executed...)
}

// registered returns the result registered for sql on this server, or else
// on its Fake. The caller holds s.mu.
func (s *FakeServer) registered(sql string) (fakeResult, bool) {
	if r, ok := s.results[sql]; ok {
		return r, true
	}
	if s.fake != nil {
		return s.fake.registered(sql)
	}
	return fakeResult{}, false
}

func normalizeSQL(sql string) string {
	return strings.Join(strings.Fields(strings.TrimRight(strings.TrimSpace(sql), ";")), " ")
}

func pgError(code, format string, args ...any) *pgconn.PgError {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: fmt.Sprintf(format, args...)}
}

func fatal(code, format string, args ...any) *pgconn.PgError {
	return &pgconn.PgError{Severity: "FATAL", Code: code, Message: fmt.Sprintf(format, args...)}
}

// admit checks a new session as the server's authentication would.
func (s *FakeServer) admit(user, database, password string, tlsUsed bool, clientCN string, network bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Starting {
		return fatal("57P03", "the database system is starting up")
	}

	method := "trust"
	if len(s.HBA) > 0 {
		entry, ok := s.matchHBA(user, database, tlsUsed, network)
		if !ok {
			enc := "no encryption"
			if tlsUsed {
				enc = "SSL encryption"
			}
			return fatal("28000", "no pg_hba.conf entry for host %q, user %q, database %q, %s", "127.0.0.1", user, database, enc)
		}
		method = entry.Method
	}

	role, ok := s.Roles[user]
	if method == "reject" {
		enc := "no encryption"
		if tlsUsed {
			enc = "SSL encryption"
		}
		return fatal("28000", "pg_hba.conf rejects connection for host %q, user %q, database %q, %s", "127.0.0.1", user, database, enc)
	}
	switch method {
	case "scram-sha-256", "password", "md5":
		if !ok || role.Password == "" || !ScramMatches(role.Password, password) {
			return fatal("28P01", "password authentication failed for user %q", user)
		}
	case "cert":
		if clientCN != user {
			return fatal("28000", "certificate authentication failed for user %q", user)
		}
	case "peer":
		// Local sessions run psql as the operating system user postgres.
		if network || user != "postgres" {
			return fatal("28000", "Peer authentication failed for user %q", user)
		}
	}

	if !ok {
		return fatal("28000", "role %q does not exist", user)
	}
	if !role.Login {
		return fatal("28000", "role %q is not permitted to log in", user)
	}
	if _, ok := s.Databases[database]; !ok {
		return fatal("3D000", "database %q does not exist", database)
	}
	return nil
}

func (s *FakeServer) matchHBA(user, database string, tlsUsed, network bool) (FakeHBA, bool) {
	for _, e := range s.HBA {
		switch e.Type {
		case "local":
			if network {
				continue
			}
		case "host":
			if !network {
				continue
			}
		case "hostssl":
			if !network || !tlsUsed {
				continue
			}
		case "hostnossl":
			if !network || tlsUsed {
				continue
			}
		}
		if hbaListMatches(e.Database, database, user) && hbaListMatches(e.User, user, "") {
			return e, true
		}
	}
	return FakeHBA{}, false
}

// hbaListMatches reports whether name is in the comma-separated database
// or user field of a pg_hba.conf line. "all" matches every name and, for
// databases, "sameuser" the database named like user.
func hbaListMatches(field, name, user string) bool {
	for _, item := range strings.Split(field, ",") {
		if item == "all" || item == name || (item == "sameuser" && user != "" && name == user) {
			return true
		}
	}
	return false
}

// fakeSession is a Session on a FakeServer.
type fakeSession struct {
	server   *FakeServer
	info     Info
	readOnly bool
	spec     *ConnSpec // the spec a Login copies; nil for local sessions
	closed   bool
}

var errClosed = errors.New("the session is closed")

func (f *fakeSession) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if f.closed {
		return 0, errClosed
	}
	stmts, err := splitSQL(sql)
	if err != nil {
		return 0, err
	}
	if err := checkArgs(stmts, len(args)); err != nil {
		return 0, err
	}
	var affected int64
	for _, st := range stmts {
		if affected, err = f.server.exec(f, normalizeSQL(st.text)); err != nil {
			return 0, err
		}
	}
	return affected, nil
}

func (f *fakeSession) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	if f.closed {
		return nil, errClosed
	}
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
	res, err := f.server.query(f, normalizeSQL(stmts[0].text), args)
	if err != nil {
		return nil, err
	}
	if err := checkColumns(res.Columns); err != nil {
		return nil, err
	}
	return res, nil
}

func (f *fakeSession) Login(ctx context.Context, user, password string) error {
	if f.spec == nil {
		return ErrNotAvailable
	}
	spec := *f.spec
	spec.User, spec.Password = user, password
	return f.server.admit(user, spec.Database, password, len(spec.TLS) > 0 && spec.TLS[0] != nil, "", true)
}

func (f *fakeSession) OpenDatabase(ctx context.Context, name string) (Session, error) {
	f.server.mu.Lock()
	_, ok := f.server.Databases[name]
	f.server.mu.Unlock()
	if !ok {
		return nil, fatal("3D000", "database %q does not exist", name)
	}
	other := *f
	other.info.Database = name
	return &other, nil
}

func (f *fakeSession) Info() Info { return f.info }

func (f *fakeSession) Close() error {
	f.closed = true
	return nil
}

var (
	reCreateRole = regexp.MustCompile(`^CREATE ROLE ("(?:[^"]|"")+") WITH(.*)$`)
	reAlterRole  = regexp.MustCompile(`^ALTER ROLE ("(?:[^"]|"")+") WITH(.*)$`)
	reCreateDB   = regexp.MustCompile(`^CREATE DATABASE ("(?:[^"]|"")+")(?: OWNER ("(?:[^"]|"")+"))? ENCODING ('(?:[^']|'')*') TEMPLATE ("(?:[^"]|"")+")$`)
	reGrant      = regexp.MustCompile(`^GRANT ([A-Z, ]+) ON (DATABASE|SCHEMA) ("(?:[^"]|"")+") TO ("(?:[^"]|"")+")$`)
	reAlterSys   = regexp.MustCompile(`^ALTER SYSTEM SET ("(?:[^"]|"")+"(?:\."(?:[^"]|"")+")?) = (E?'(?:[^']|'')*')$`)
)

func unquoteIdent(s string) string {
	return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
}

func unquoteLiteral(s string) string {
	if strings.HasPrefix(s, "E'") {
		return strings.ReplaceAll(strings.ReplaceAll(s[2:len(s)-1], `''`, `'`), `\\`, `\`)
	}
	return strings.ReplaceAll(s[1:len(s)-1], `''`, `'`)
}

// exec runs one statement with the server's locks held.
func (s *FakeServer) exec(f *fakeSession, sql string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.executed = append(s.executed, sql)
	me := s.Roles[f.info.User]

	write := func(what string) error {
		if f.readOnly {
			return pgError("25006", "cannot execute %s in a read-only transaction", what)
		}
		return nil
	}

	switch {
	case reCreateRole.MatchString(sql):
		m := reCreateRole.FindStringSubmatch(sql)
		name := unquoteIdent(m[1])
		if err := write("CREATE ROLE"); err != nil {
			return 0, err
		}
		if me == nil || !(me.Superuser || me.CreateRole) {
			return 0, pgError("42501", "permission denied to create role")
		}
		if _, ok := s.Roles[name]; ok {
			return 0, pgError("42710", "role %q already exists", name)
		}
		role := &FakeRole{}
		if err := applyRoleOptions(role, m[2], me); err != nil {
			return 0, err
		}
		s.Roles[name] = role
		return 0, nil
	case reAlterRole.MatchString(sql):
		m := reAlterRole.FindStringSubmatch(sql)
		name := unquoteIdent(m[1])
		if err := write("ALTER ROLE"); err != nil {
			return 0, err
		}
		role, ok := s.Roles[name]
		if !ok {
			return 0, pgError("42704", "role %q does not exist", name)
		}
		if me == nil || !(me.Superuser || me.CreateRole) {
			return 0, pgError("42501", "permission denied to alter role")
		}
		return 0, applyRoleOptions(role, m[2], me)
	case reCreateDB.MatchString(sql):
		m := reCreateDB.FindStringSubmatch(sql)
		name, owner := unquoteIdent(m[1]), f.info.User
		if m[2] != "" {
			owner = unquoteIdent(m[2])
		}
		if err := write("CREATE DATABASE"); err != nil {
			return 0, err
		}
		if me == nil || !(me.Superuser || me.CreateDB) {
			return 0, pgError("42501", "permission denied to create database")
		}
		if _, ok := s.Databases[name]; ok {
			return 0, pgError("42P04", "database %q already exists", name)
		}
		if _, ok := s.Roles[owner]; !ok {
			return 0, pgError("42704", "role %q does not exist", owner)
		}
		if !me.Superuser && owner != f.info.User {
			return 0, pgError("42501", "must be able to SET ROLE %q", owner)
		}
		s.Databases[name] = &FakeDatabase{Owner: owner, Encoding: strings.ToUpper(unquoteLiteral(m[3]))}
		return 0, nil
	case reGrant.MatchString(sql):
		m := reGrant.FindStringSubmatch(sql)
		kind, object, role := m[2], unquoteIdent(m[3]), unquoteIdent(m[4])
		if err := write("GRANT"); err != nil {
			return 0, err
		}
		if _, ok := s.Roles[role]; !ok {
			return 0, pgError("42704", "role %q does not exist", role)
		}
		db := ""
		if kind == "DATABASE" {
			if _, ok := s.Databases[object]; !ok {
				return 0, pgError("3D000", "database %q does not exist", object)
			}
		} else {
			db = f.info.Database
			if object != "public" {
				return 0, pgError("3F000", "schema %q does not exist", object)
			}
		}
		for _, p := range strings.Split(m[1], ", ") {
			s.Grants[FakeGrant{Kind: kind, Object: object, Database: db, Role: role, Privilege: p}] = true
		}
		return 0, nil
	case reAlterSys.MatchString(sql):
		m := reAlterSys.FindStringSubmatch(sql)
		name := strings.ReplaceAll(m[1], `"`, "")
		if me == nil || !me.Superuser {
			return 0, pgError("42501", "permission denied to set parameter %q", name)
		}
		set, ok := s.Settings[name]
		if !ok {
			return 0, pgError("42704", "unrecognized configuration parameter %q", name)
		}
		set.File = unquoteLiteral(m[2])
		return 0, nil
	}

	if r, ok := s.registered(sql); ok {
		if r.err != nil {
			return 0, r.err
		}
		if r.result != nil {
			return int64(len(r.result.Rows)), nil
		}
		return r.rows, nil
	}
	return 0, fmt.Errorf("the fake PostgreSQL has no result for %q: register one with FakeServer.RegisterExec or Register", sql)
}

func applyRoleOptions(role *FakeRole, options string, me *FakeRole) error {
	words := strings.Fields(options)
	for i := 0; i < len(words); i++ {
		switch w := words[i]; w {
		case "LOGIN", "NOLOGIN":
			role.Login = w == "LOGIN"
		case "SUPERUSER", "NOSUPERUSER":
			if !me.Superuser {
				return pgError("42501", "permission denied to alter role")
			}
			role.Superuser = w == "SUPERUSER"
		case "CREATEDB", "NOCREATEDB":
			role.CreateDB = w == "CREATEDB"
		case "CREATEROLE", "NOCREATEROLE":
			role.CreateRole = w == "CREATEROLE"
		case "PASSWORD":
			if i+1 >= len(words) {
				return pgError("42601", "syntax error at end of input")
			}
			i++
			role.Password = unquoteLiteral(words[i])
		default:
			return pgError("42601", "syntax error at or near %q", w)
		}
	}
	return nil
}

// query runs one query with the server's locks held.
func (s *FakeServer) query(f *fakeSession, sql string, args []any) (*Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.executed = append(s.executed, sql)
	me := s.Roles[f.info.User]
	arg := func(i int) string { v, _ := args[i].(string); return v }

	switch sql {
	case normalizeSQL(sqlConfigPath):
		p, ok := s.Files[arg(0)]
		if !ok {
			return nil, pgError("42704", "unrecognized configuration parameter %q", arg(0))
		}
		return &Result{Columns: []string{"path"}, Rows: [][]any{{p}}}, nil
	case normalizeSQL(sqlPing):
		return &Result{Columns: []string{"ok"}, Rows: [][]any{{int64(1)}}}, nil
	case normalizeSQL(sqlRole):
		res := &Result{Columns: []string{"rolname", "rolsuper", "rolcreaterole", "rolcreatedb", "rolcanlogin"}}
		if r, ok := s.Roles[arg(0)]; ok {
			res.Rows = append(res.Rows, []any{arg(0), r.Superuser, r.CreateRole, r.CreateDB, r.Login})
		}
		return res, nil
	case normalizeSQL(sqlRolePassword):
		if me == nil || !me.Superuser {
			return nil, pgError("42501", "permission denied for table pg_authid")
		}
		res := &Result{Columns: []string{"rolpassword"}}
		if r, ok := s.Roles[arg(0)]; ok {
			var pw any
			if r.Password != "" {
				pw = r.Password
			}
			res.Rows = append(res.Rows, []any{pw})
		}
		return res, nil
	case normalizeSQL(sqlDatabase):
		res := &Result{Columns: []string{"datname", "owner", "encoding"}}
		if d, ok := s.Databases[arg(0)]; ok {
			res.Rows = append(res.Rows, []any{arg(0), d.Owner, d.Encoding})
		}
		return res, nil
	case normalizeSQL(sqlDatabasePrivilege), normalizeSQL(sqlSchemaPrivilege):
		kind := "DATABASE"
		if sql == normalizeSQL(sqlSchemaPrivilege) {
			kind = "SCHEMA"
		}
		return s.hasPrivilege(f, kind, arg(0), arg(1), strings.ToUpper(arg(2)))
	case normalizeSQL(sqlSetting):
		res := &Result{Columns: []string{"setting", "unit", "vartype", "context", "pending_restart"}}
		if set, ok := s.Settings[arg(0)]; ok {
			var unit any
			if set.Unit != "" {
				unit = set.Unit
			}
			res.Rows = append(res.Rows, []any{set.Value, unit, set.Vartype, set.Context, set.PendingRestart})
		}
		return res, nil
	case normalizeSQL(sqlFileSetting):
		if me == nil || !me.Superuser {
			return nil, pgError("42501", "permission denied for view pg_file_settings")
		}
		res := &Result{Columns: []string{"setting"}}
		if set, ok := s.Settings[arg(0)]; ok && set.File != "" {
			res.Rows = append(res.Rows, []any{set.File})
		}
		return res, nil
	case normalizeSQL(sqlReload):
		if me == nil || !me.Superuser {
			return nil, pgError("42501", "permission denied for function pg_reload_conf")
		}
		if s.linked() {
			s.loadFiles(context.Background(), false)
		} else {
			s.reload()
		}
		return &Result{Columns: []string{"reloaded"}, Rows: [][]any{{true}}}, nil
	}
	if reHBARules.MatchString(sql) {
		return s.hbaFileRules(me, sql)
	}

	if r, ok := s.registered(sql); ok {
		switch {
		case r.err != nil:
			return nil, r.err
		case r.result == nil:
			return nil, ErrNoRows
		}
		return r.result, nil
	}
	return nil, fmt.Errorf("the fake PostgreSQL has no result for %q: register one with FakeServer.Register", sql)
}

// reload applies the settings from postgresql.auto.conf that do not need a
// restart, and marks the others as pending.
func (s *FakeServer) reload() {
	for _, set := range s.Settings {
		if set.File == "" {
			continue
		}
		value := set.File
		if set.Unit != "" {
			if n, err := settingNumber(value, set.Unit); err == nil {
				value = fmt.Sprint(n)
			}
		} else if set.Vartype == "bool" {
			value = parseBool(value)
		}
		if value == set.Value {
			set.PendingRestart = false
			continue
		}
		if set.Context == "postmaster" {
			set.PendingRestart = true
			continue
		}
		set.Value = value
	}
}

// hasPrivilege answers has_database_privilege and has_schema_privilege:
// superusers and owners have every privilege, PUBLIC has CONNECT and
// TEMPORARY on databases and USAGE on schema public.
func (s *FakeServer) hasPrivilege(f *fakeSession, kind, role, object, priv string) (*Result, error) {
	r, ok := s.Roles[role]
	if !ok {
		return nil, pgError("42704", "role %q does not exist", role)
	}
	granted := r.Superuser
	db := ""
	if kind == "DATABASE" {
		d, ok := s.Databases[object]
		if !ok {
			return nil, pgError("3D000", "database %q does not exist", object)
		}
		granted = granted || d.Owner == role || priv == "CONNECT" || priv == "TEMPORARY"
	} else {
		if object != "public" {
			return nil, pgError("3F000", "schema %q does not exist", object)
		}
		db = f.info.Database
		granted = granted || priv == "USAGE" || s.Databases[db].Owner == role
	}
	granted = granted || s.Grants[FakeGrant{Kind: kind, Object: object, Database: db, Role: role, Privilege: priv}]
	return &Result{Columns: []string{"granted"}, Rows: [][]any{{granted}}}, nil
}

// RoleNames returns the names of the server's roles, sorted.
func (s *FakeServer) RoleNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.Roles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
