// Package cocalc is the Starlark module `cocalc`: it starts the
// cocalc-docker container wired to an external PostgreSQL database, proves
// that the set-up works, and lists CoCalc's accounts.
package cocalc

import (
	"fmt"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Module declares the cocalc module.
var Module = runtime.Module{
	Name: "cocalc",
	Doc: "The CoCalc container (`sagemathinc/cocalc-docker`) with an external PostgreSQL database. " +
		"cocalc.run checks what the hub needs before it starts anything, cocalc.verify proves the set-up " +
		"works end to end, and cocalc.accounts runs the tutorial's \"Try it out\" query.",
	Builtins: []runtime.Builtin{
		{Name: "cocalc.run", Fn: run, Doc: runDoc},
		{Name: "cocalc.verify", Fn: verify, Doc: verifyDoc},
		{Name: "cocalc.accounts", Fn: accounts, Doc: `cocalc.accounts(session)

Returns the rows of ` + "`select account_id, email_address from accounts`" + ` as a list of dicts, ordered by
email address: the tutorial's "Try it out" query. session is a postgres session on CoCalc's database.`},
	},
}

const runDoc = `cocalc.run(name="cocalc", image="sagemathinc/cocalc-docker", network="cocalc-network", pghost="postgres", pguser="cocalc", database="cocalc", projects_dir=..., password_file=None, auth="password", ca_file=None, client_cert=None, client_key=None, server_cert=None, db_port=5432, port=5123, host="127.0.0.1", admin=None, env={}, labels={}, recreate=False)

Pulls image when it is missing (a docker.image step), then starts the cocalc-docker container
(a docker.container step) wired to the database:

- environment: PGHOST=pghost, PGUSER=pguser, SMC_DB and PGDATABASE both set to database, and with
  TLS the SMC_DB_SSL_CA_FILE, SMC_DB_SSL_CLIENT_CERT_FILE and SMC_DB_SSL_CLIENT_KEY_FILE paths;
  never a password;
- mounts: projects_dir at /projects; password_file (the database password, mode 0600 in a 0700
  folder) at /projects/secrets/postgres, read-only, unless it already is projects_dir/secrets/postgres;
  and only ca_file, client_cert and client_key, read-only, under /root/pgtls/, a path the hub strips
  from the environment of user projects. The CA key and the server key are never mounted;
- port 443 published on host:port (127.0.0.1:5123 by default);
- restart policy unless-stopped, as the database container has, so both come back after the
  Docker Engine restarts.

TLS is on when ca_file or a client certificate is given. auth="cert" means PostgreSQL's cert
method: the client certificate's CN must equal pguser.

Before anything starts it checks, and fails with the cause and the fix: pghost is a DNS name;
db_port is 5432; the server certificate (server_cert) names pghost and localhost; under cert
authentication the client certificate's CN equals pguser; ca_file is set whenever client files are;
the client key has no passphrase and mode 0600; the password file is 0600 in a 0700 folder; and,
when admin (a postgres session that can read pg_hba_file_rules) is given, pg_hba admits pguser to
database and to the postgres database, which the hub's start-up psql check uses.

Returns the container value of docker.container.`

const verifyDoc = `cocalc.verify(session=None, database_container="postgres", database="cocalc", name="cocalc", port=5123, host="127.0.0.1", pguser="cocalc", tls=False, client_cert=True, timeout=300)

Proves that CoCalc works with its database, and fails with exit code 3 when it does not.
The database is read through session, a postgres session on CoCalc's database; without one,
through postgres.local(database_container, database=database), after checking that that
container runs. It checks that the web server answers HTTPS on host:port (waiting up to timeout
seconds, since the hub creates its schema first, and giving up as soon as the container name
stops); that the accounts table exists in the database, owned by pguser; and with
tls=True, pg_stat_ssl shows every connection of pguser encrypted, with the client certificate's
DN (CN=pguser) when client_cert is True. Not a step: it changes nothing. Under --dry-run it checks
nothing and says so.`

func unpackOptional(v starlark.Value) string {
	if s, ok := v.(starlark.String); ok {
		return string(s)
	}
	return ""
}

func run(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		name, image, network                   = "cocalc", "sagemathinc/cocalc-docker", "cocalc-network"
		pghost, pguser, database               = "postgres", "cocalc", "cocalc"
		projectsDir                            string
		passwordFile                           starlark.Value = starlark.None
		auth                                                  = "password"
		caFile, clientCert, clientKey, srvCert starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
		dbPort, port                                          = 5432, 5123
		host                                                  = "127.0.0.1"
		admin                                  starlark.Value = starlark.None
		extraEnv, labels                       *starlark.Dict
		recreate                               bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"name?", &name, "image?", &image, "network?", &network,
		"pghost?", &pghost, "pguser?", &pguser, "database?", &database,
		"projects_dir", &projectsDir, "password_file?", &passwordFile, "auth?", &auth,
		"ca_file?", &caFile, "client_cert?", &clientCert, "client_key?", &clientKey, "server_cert?", &srvCert,
		"db_port?", &dbPort, "port?", &port, "host?", &host, "admin?", &admin,
		"env?", &extraEnv, "labels?", &labels, "recreate?", &recreate); err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	resolve := func(v starlark.Value) string {
		if s := unpackOptional(v); s != "" {
			return runtime.ResolvePath(env, s)
		}
		return ""
	}
	cfg := dbConfig{
		Host: pghost, Port: dbPort, User: pguser, Database: database, PasswordFile: resolve(passwordFile),
		Auth: auth, CAFile: resolve(caFile), ClientCert: resolve(clientCert), ClientKey: resolve(clientKey), ServerCert: resolve(srvCert),
	}
	projects := runtime.ResolvePath(env, projectsDir)

	problems := check(env.FS, cfg, env.DryRun)
	if admin != starlark.None {
		more, err := checkReach(thread, admin, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		problems = append(problems, more...)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: the database settings would not work with CoCalc:\n  - %s", b.Name(), strings.Join(problems, "\n  - "))
	}

	// docker.container does not pull, so fetch a missing image first; the
	// real image is large, and its pull shows progress.
	if _, err := callBuiltin(thread, "docker", "image", starlark.Tuple{starlark.String(image)},
		[]starlark.Tuple{{starlark.String("pull"), starlark.String("missing")}}); err != nil {
		return nil, err
	}

	spec := hubSpec{cfg: cfg, projects: projects}
	kw := []starlark.Tuple{
		{starlark.String("image"), starlark.String(image)},
		{starlark.String("env"), spec.env(extraEnv)},
		{starlark.String("mounts"), spec.mounts()},
		{starlark.String("ports"), starlark.NewList([]starlark.Value{starlark.String(fmt.Sprintf("%s:%d:443", host, port))})},
		{starlark.String("network"), starlark.String(network)},
		{starlark.String("restart"), starlark.String("unless-stopped")},
	}
	if labels != nil {
		kw = append(kw, starlark.Tuple{starlark.String("labels"), labels})
	}
	if recreate {
		kw = append(kw, starlark.Tuple{starlark.String("recreate"), starlark.True})
	}
	container, err := callBuiltin(thread, "docker", "container", starlark.Tuple{starlark.String(name)}, kw)
	if err != nil {
		return nil, err
	}
	return container, nil
}

// tlsDir is the folder of the TLS files in the CoCalc container. The hub removes
// environment values that start with /root from what user projects see, so
// the paths do not leak into every project.
const tlsDir = "/root/pgtls"

// hubSpec builds the environment and mounts of the CoCalc container.
type hubSpec struct {
	cfg      dbConfig
	projects string
}

func (h hubSpec) env(extra *starlark.Dict) *starlark.Dict {
	d := starlark.NewDict(8)
	set := func(k, v string) { d.SetKey(starlark.String(k), starlark.String(v)) }
	set("PGHOST", h.cfg.Host)
	set("PGUSER", h.cfg.User)
	set("SMC_DB", h.cfg.Database)
	set("PGDATABASE", h.cfg.Database)
	if h.cfg.CAFile != "" {
		set("SMC_DB_SSL_CA_FILE", tlsDir+"/ca.crt")
	}
	if h.cfg.ClientCert != "" {
		set("SMC_DB_SSL_CLIENT_CERT_FILE", tlsDir+"/client.crt")
		set("SMC_DB_SSL_CLIENT_KEY_FILE", tlsDir+"/client.key")
	}
	if extra != nil {
		for _, item := range extra.Items() {
			d.SetKey(item[0], item[1])
		}
	}
	return d
}

func (h hubSpec) mounts() *starlark.List {
	var m []starlark.Value
	add := func(src, dst string) { m = append(m, starlark.String(src+":"+dst+":ro")) }
	m = append(m, starlark.String(h.projects+":/projects"))
	inside := filepath.Join(h.projects, "secrets", "postgres")
	if h.cfg.PasswordFile != "" && filepath.Clean(h.cfg.PasswordFile) != inside {
		add(h.cfg.PasswordFile, "/projects/secrets/postgres")
	}
	if h.cfg.CAFile != "" {
		add(h.cfg.CAFile, tlsDir+"/ca.crt")
	}
	if h.cfg.ClientCert != "" {
		add(h.cfg.ClientCert, tlsDir+"/client.crt")
		add(h.cfg.ClientKey, tlsDir+"/client.key")
	}
	return starlark.NewList(m)
}
