package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// ConnSpec is a resolved postgres.connect request: every setting decided,
// every file read.
type ConnSpec struct {
	Host     string // host name, IP address, or the folder of a Unix socket
	Port     int
	User     string
	Database string
	Password string

	// SSLMode is the libpq sslmode asked for; TLS holds the TLS settings to
	// try in order (nil means without TLS), as libpq tries them.
	SSLMode string
	TLS     []*tls.Config

	// ClientCN is the common name of the client certificate, if one is
	// given; hints use it.
	ClientCN string

	ServerName     string
	ConnectTimeout time.Duration

	// ReadOnly makes every transaction of the session read-only; a dry run
	// sets it.
	ReadOnly bool
}

// Where formats the server's address as host:port, or returns the socket
// folder.
func (c *ConnSpec) Where() string {
	if strings.HasPrefix(c.Host, "/") {
		return c.Host
	}
	if strings.Contains(c.Host, ":") {
		return fmt.Sprintf("[%s]:%d", c.Host, c.Port)
	}
	return fmt.Sprintf("%s:%d", c.Host, c.Port)
}

// pgconnConfig turns the spec into a pgconn configuration. Settings are
// passed to pgconn only through fields, never through a connection string,
// and the fields that pgconn fills from the environment (PGPASSWORD,
// PGPASSFILE, PGOPTIONS, ...) are overwritten.
func (c *ConnSpec) pgconnConfig() (*pgconn.Config, error) {
	config, err := pgconn.ParseConfig("sslmode=disable target_session_attrs=any sslcertmode=allow")
	if err != nil {
		return nil, err
	}
	config.Host = c.Host
	config.Port = uint16(c.Port)
	config.User = c.User
	config.Database = c.Database
	config.Password = c.Password
	config.ConnectTimeout = c.ConnectTimeout
	config.ValidateConnect = nil
	config.RuntimeParams = map[string]string{"application_name": "cocalcctl"}
	if c.ReadOnly {
		// A SET after the start-up, not a start-up parameter: PgBouncer
		// rejects start-up parameters it does not know, so a dry run
		// through a pooler (Supabase's) would fail to connect.
		config.AfterConnect = setReadOnly
	}

	config.TLSConfig = nil
	config.Fallbacks = nil
	if strings.HasPrefix(c.Host, "/") {
		return config, nil
	}
	for i, t := range c.TLS {
		if i == 0 {
			config.TLSConfig = t
			continue
		}
		config.Fallbacks = append(config.Fallbacks, &pgconn.FallbackConfig{Host: c.Host, Port: uint16(c.Port), TLSConfig: t})
	}
	return config, nil
}

// setReadOnly makes every later transaction of conn read-only.
func setReadOnly(ctx context.Context, conn *pgconn.PgConn) error {
	_, err := conn.Exec(ctx, "SET default_transaction_read_only = on").ReadAll()
	return err
}

// connectArgs are the arguments of postgres.connect, shared by
// postgres.wait and the module-level exec and query.
type connectArgs struct {
	dsn            string
	host, user     string
	database       string
	port           int
	password       secret.Value
	passwordFile   string
	sslmode        string
	sslrootcert    string
	sslcert        string
	sslkey         string
	keyPassphrase  secret.Value
	serverName     string
	connectTimeout int
}

// pairs returns the name/pointer pairs for starlark.UnpackArgs.
func (a *connectArgs) pairs() []any {
	return []any{
		"dsn?", &a.dsn, "host?", &a.host, "port?", &a.port, "user?", &a.user,
		"database?", &a.database, "password?", &a.password, "password_file?", &a.passwordFile,
		"sslmode?", &a.sslmode, "sslrootcert?", &a.sslrootcert, "sslcert?", &a.sslcert,
		"sslkey?", &a.sslkey, "sslkey_passphrase?", &a.keyPassphrase,
		"server_name?", &a.serverName, "connect_timeout?", &a.connectTimeout,
	}
}

func newConnectArgs() *connectArgs { return &connectArgs{connectTimeout: 10} }

// libpqEnv maps libpq keywords to the environment variables that give their
// defaults.
var libpqEnv = map[string]string{
	"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE",
	"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
}

// resolve decides every setting: a keyword argument wins over the DSN, the
// DSN over the libpq environment variables, and those over libpq's defaults.
// Files are read through env.FS, with relative paths taken from the
// script's folder.
func (a *connectArgs) resolve(env *runtime.Env) (*ConnSpec, error) {
	settings := map[string]string{}
	if a.dsn != "" {
		var err error
		if settings, err = parseDSN(a.dsn); err != nil {
			return nil, err
		}
	}
	for key, value := range map[string]string{
		"host": a.host, "user": a.user, "dbname": a.database, "sslmode": a.sslmode,
		"sslrootcert": a.sslrootcert, "sslcert": a.sslcert, "sslkey": a.sslkey,
	} {
		if value != "" {
			settings[key] = value
		}
	}
	if a.port != 0 {
		settings["port"] = strconv.Itoa(a.port)
	}
	for key, name := range libpqEnv {
		if _, ok := settings[key]; !ok {
			if v := os.Getenv(name); v != "" {
				settings[key] = v
			}
		}
	}

	spec := &ConnSpec{
		Host: settings["host"], User: settings["user"], Database: settings["dbname"],
		SSLMode: settings["sslmode"], ServerName: a.serverName,
		ConnectTimeout: time.Duration(a.connectTimeout) * time.Second,
		ReadOnly:       env.DryRun,
	}
	if spec.Host == "" {
		spec.Host = defaultHost()
	}
	if strings.Contains(spec.Host, ",") {
		return nil, fmt.Errorf("host %q names several hosts; give one host", spec.Host)
	}
	spec.Port = 5432
	if p, ok := settings["port"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a port number: give a number from 1 to 65535", p)
		}
		spec.Port = n
	}
	if spec.User == "" {
		u, err := user.Current()
		if err != nil {
			return nil, errors.New("no user given and the current user is unknown: pass user=")
		}
		spec.User = u.Username
	}
	if spec.Database == "" {
		spec.Database = spec.User
	}
	if spec.SSLMode == "" {
		spec.SSLMode = "prefer"
	}
	if !slices.Contains(sslModes, spec.SSLMode) {
		return nil, fmt.Errorf("sslmode %q is not valid: use one of %s", spec.SSLMode, strings.Join(sslModes, ", "))
	}
	if a.connectTimeout < 0 {
		return nil, fmt.Errorf("connect_timeout %d is negative: give seconds, or 0 to wait without limit", a.connectTimeout)
	}

	password, err := a.readPassword(env)
	if err != nil {
		return nil, err
	}
	spec.Password = password

	ts := tlsSettings{
		Mode: spec.SSLMode, RootCert: resolveFile(env, settings["sslrootcert"]),
		Cert: resolveFile(env, settings["sslcert"]), Key: resolveFile(env, settings["sslkey"]),
		ServerName: a.serverName,
	}
	if a.keyPassphrase.Secret != nil {
		ts.KeyPass = a.keyPassphrase.Secret.Reveal()
	}
	if spec.TLS, err = tlsConfigs(env.FS, spec.Host, ts); err != nil {
		return nil, err
	}
	spec.ClientCN = clientCN(spec.TLS)
	return spec, nil
}

func (a *connectArgs) readPassword(env *runtime.Env) (string, error) {
	if a.password.IsSet && a.passwordFile != "" {
		return "", errors.New("password and password_file are both given: pass one")
	}
	if a.password.Secret != nil {
		return a.password.Secret.Reveal(), nil
	}
	if a.passwordFile == "" {
		return "", nil
	}
	path := runtime.ResolvePath(env, a.passwordFile)
	info, err := env.FS.Stat(path)
	if err != nil {
		return "", fmt.Errorf("cannot read password_file %s: %w", path, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("password_file %s has mode %04o, so other users can read it: run `chmod 600 %s`", path, perm, path)
	}
	data, err := env.FS.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read password_file %s: %w", path, err)
	}
	plain := strings.TrimSpace(string(data))
	if plain == "" {
		return "", fmt.Errorf("password_file %s is empty: write the password into it", path)
	}
	env.AddSecret(plain)
	return plain, nil
}

func resolveFile(env *runtime.Env, p string) string {
	if p == "" || p == "system" {
		return p
	}
	return runtime.ResolvePath(env, p)
}

// defaultHost is libpq's default on Debian: the socket folder
// /var/run/postgresql when it exists, otherwise localhost.
func defaultHost() string {
	if info, err := os.Stat("/var/run/postgresql"); err == nil && info.IsDir() {
		return "/var/run/postgresql"
	}
	return "localhost"
}

func clientCN(configs []*tls.Config) string {
	for _, c := range configs {
		if c != nil && len(c.Certificates) > 0 && c.Certificates[0].Leaf != nil {
			return c.Certificates[0].Leaf.Subject.CommonName
		}
	}
	return ""
}

// connect opens a session for spec through the run's backend.
func connect(thread *starlark.Thread, spec *ConnSpec) (Session, error) {
	backend, err := backendOf(thread)
	if err != nil {
		return nil, err
	}
	env := runtime.EnvOf(thread)
	s, err := backend.Connect(env.Ctx, spec)
	if err != nil {
		return nil, explainConnect(err, spec)
	}
	return s, nil
}

// Backend opens sessions. The real backend dials with pgx and runs psql in
// containers; Fake serves sessions on in-memory servers.
type Backend interface {
	// Connect opens a session over the network or a Unix socket.
	Connect(ctx context.Context, spec *ConnSpec) (Session, error)

	// Local opens a session that runs psql inside a container.
	Local(ctx context.Context, spec *LocalSpec) (Session, error)
}

// BackendKey is the key of the postgres backend in runtime.Env; tests
// install a Fake with env.SetBackend(postgres.BackendKey, fake).
const BackendKey = "postgres"

func backendOf(thread *starlark.Thread) (Backend, error) {
	b, err := runtime.EnvOf(thread).Backend(BackendKey, func() (any, error) { return &realBackend{}, nil })
	if err != nil {
		return nil, err
	}
	backend, ok := b.(Backend)
	if !ok {
		return nil, fmt.Errorf("internal error: the postgres backend is a %T", b)
	}
	return backend, nil
}

// realBackend connects with pgx and runs psql through the Docker engine. It
// keeps the sessions it opened, so the end of the run closes them.
type realBackend struct {
	mu       sync.Mutex
	sessions []Session
}

func (r *realBackend) keep(s Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions = append(r.sessions, s)
}

// Close closes every session the backend opened.
func (r *realBackend) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		s.Close()
	}
	r.sessions = nil
	return nil
}

func (r *realBackend) Connect(ctx context.Context, spec *ConnSpec) (Session, error) {
	config, err := spec.pgconnConfig()
	if err != nil {
		return nil, err
	}
	s, err := openPgx(ctx, config)
	if err != nil {
		return nil, err
	}
	s.info.Where = spec.Where()
	r.keep(s)
	return s, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ConnectOptions are the settings of postgres.connect for Go callers, such
// as other modules and tests. Empty fields take the same defaults.
type ConnectOptions struct {
	DSN, Host                         string
	Port                              int
	User, Database, Password          string
	SSLMode, SSLRootCert              string
	SSLCert, SSLKey, SSLKeyPassphrase string
	ServerName                        string
	// ConnectTimeout is in seconds; 0 means 10.
	ConnectTimeout int
}

// Open opens a pgx session as postgres.connect does, reading files from the
// machine's file system.
func Open(ctx context.Context, o *ConnectOptions) (Session, error) {
	a := &connectArgs{
		dsn: o.DSN, host: o.Host, port: o.Port, user: o.User, database: o.Database,
		sslmode: o.SSLMode, sslrootcert: o.SSLRootCert, sslcert: o.SSLCert, sslkey: o.SSLKey,
		serverName: o.ServerName, connectTimeout: o.ConnectTimeout,
	}
	if a.connectTimeout == 0 {
		a.connectTimeout = 10
	}
	if o.Password != "" {
		_ = a.password.Unpack(starlark.String(o.Password))
	}
	if o.SSLKeyPassphrase != "" {
		_ = a.keyPassphrase.Unpack(starlark.String(o.SSLKeyPassphrase))
	}
	env := runtime.NewEnv(ctx, nil)
	spec, err := a.resolve(env)
	if err != nil {
		return nil, err
	}
	backend := &realBackend{}
	s, err := backend.Connect(ctx, spec)
	if err != nil {
		return nil, explainConnect(err, spec)
	}
	return s, nil
}
