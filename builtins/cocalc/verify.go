package cocalc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Prober checks that a web server responds. The real one makes HTTPS
// requests; `cocalcctl test` installs a fake under the backend key "http".
type Prober interface {
	// Probe makes one GET request to url and returns the HTTP status code.
	Probe(ctx context.Context, url string) (int, error)
}

// HTTPProber is the real Prober. It does not verify the server certificate,
// because cocalc-docker serves a self-signed one by default.
type HTTPProber struct{}

// Probe implements Prober.
func (HTTPProber) Probe(ctx context.Context, url string) (int, error) {
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// FakeProber returns Status for every probe, for script tests.
type FakeProber struct {
	Status int
	URLs   []string
}

// Probe implements Prober.
func (f *FakeProber) Probe(ctx context.Context, url string) (int, error) {
	f.URLs = append(f.URLs, url)
	return f.Status, nil
}

// ProberKey is the backend key of the Prober.
const ProberKey = "http"

func prober(env *runtime.Env) (Prober, error) {
	b, err := env.Backend(ProberKey, func() (any, error) { return HTTPProber{}, nil })
	if err != nil {
		return nil, err
	}
	p, ok := b.(Prober)
	if !ok {
		return nil, errors.New("internal error: the http backend is not a prober")
	}
	return p, nil
}

func verify(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		session    starlark.Value = starlark.None
		dbName                    = "postgres"
		database                  = "cocalc"
		name                      = "cocalc"
		port                      = 5123
		host                      = "127.0.0.1"
		pguser                    = "cocalc"
		useTLS     bool
		clientCert = true
		timeout    = 300
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session?", &session, "database_container?", &dbName,
		"database?", &database, "name?", &name, "port?", &port,
		"host?", &host, "pguser?", &pguser, "tls?", &useTLS, "client_cert?", &clientCert, "timeout?", &timeout); err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	step := runtime.BeginCall(thread, fmt.Sprintf("%s(name=%q, port=%d)", b.Name(), name, port))
	if env.DryRun {
		step.Progress("nothing is verified under --dry-run")
		return starlark.None, nil
	}

	if session == starlark.None {
		if !running(thread, dbName) {
			return nil, &runtime.VerifyError{Err: fmt.Errorf("%s: the database container %s is not running; start it (the script's start function) "+
				"and see `docker logs %s`", b.Name(), dbName, dbName)}
		}
		local, err := callBuiltin(thread, "postgres", "local", starlark.Tuple{starlark.String(dbName)},
			[]starlark.Tuple{{starlark.String("database"), starlark.String(database)}})
		if err != nil {
			return nil, &runtime.VerifyError{Err: fmt.Errorf("%s: cannot reach the database in %s: %w", b.Name(), dbName, err)}
		}
		session = local
	}

	p, err := prober(env)
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("https://%s:%d/", host, port)
	alive := func() bool { return running(thread, name) }
	if err := waitHTTP(env, p, url, time.Duration(timeout)*time.Second, alive); err != nil {
		tail, _ := callBuiltin(thread, "docker", "logs", starlark.Tuple{starlark.String(name)}, []starlark.Tuple{{starlark.String("tail"), starlark.MakeInt(20)}})
		msg := fmt.Sprintf("%s: CoCalc's web server at %s did not answer: %v; the hub may still be retrying its database connection "+
			"or may have exited; see `docker logs %s`", b.Name(), url, err, name)
		if s, ok := tail.(starlark.String); ok && s != "" {
			msg += "; its last log lines are:\n" + strings.TrimRight(string(s), "\n")
		}
		return nil, &runtime.VerifyError{Err: errors.New(msg)}
	}
	step.Progress("the web server answers at %s", url)

	rows, err := query(thread, session, "select tableowner from pg_tables where schemaname = 'public' and tablename = 'accounts'")
	if err != nil {
		return nil, &runtime.VerifyError{Err: fmt.Errorf("%s: cannot look for the accounts table: %w", b.Name(), err)}
	}
	if len(rows) == 0 {
		return nil, &runtime.VerifyError{Err: fmt.Errorf("%s: the database has no accounts table, so the hub did not create its schema there; "+
			"check that SMC_DB names this database and see `docker logs %s`", b.Name(), name)}
	}
	if owner := fieldString(rows[0], "tableowner"); owner != pguser {
		return nil, &runtime.VerifyError{Err: fmt.Errorf("%s: the accounts table belongs to %q, not to %q; the hub counts only tables it owns "+
			"and fails to create the others", b.Name(), owner, pguser)}
	}
	step.Progress("the accounts table exists, owned by %s", pguser)

	if useTLS {
		if err := checkSSL(thread, session, pguser, clientCert); err != nil {
			return nil, &runtime.VerifyError{Err: fmt.Errorf("%s: %w", b.Name(), err)}
		}
		step.Progress("every connection of %s is encrypted", pguser)
	}
	return starlark.None, nil
}

// running reports whether docker.inspect(name) reports the container as running.
func running(thread *starlark.Thread, name string) bool {
	info, err := callBuiltin(thread, "docker", "inspect", starlark.Tuple{starlark.String(name)}, nil)
	if err != nil {
		return false
	}
	attrs, ok := info.(starlark.HasAttrs)
	if !ok {
		return false
	}
	v, err := attrs.Attr("running")
	return err == nil && v == starlark.True
}

// waitHTTP waits until url responds with a status below 400, for at most
// timeout, and gives up early when alive reports that the server's
// container stopped.
func waitHTTP(env *runtime.Env, p Prober, url string, timeout time.Duration, alive func() bool) error {
	ctx, cancel := context.WithTimeout(env.Ctx, timeout)
	defer cancel()
	deadline := env.Clock.Now().Add(timeout)

	delay := 500 * time.Millisecond
	var last error
	for {
		status, err := p.Probe(ctx, url)
		switch {
		case err == nil && status < 400:
			return nil
		case err == nil:
			last = fmt.Errorf("HTTP status %d", status)
		default:
			last = err
		}
		if !alive() {
			return fmt.Errorf("the container stopped (last attempt: %v)", last)
		}
		if !env.Clock.Now().Add(delay).Before(deadline) || runtime.Sleep(ctx, env.Clock, delay) != nil {
			return fmt.Errorf("no response within %s (last attempt: %v)", timeout, last)
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func checkSSL(thread *starlark.Thread, session starlark.Value, pguser string, clientCert bool) error {
	rows, err := query(thread, session, `select s.ssl, coalesce(s.client_dn, '') as client_dn
from pg_stat_ssl s join pg_stat_activity a on a.pid = s.pid
where a.usename = $1 and a.backend_type = 'client backend'`, starlark.String(pguser))
	if err != nil {
		return fmt.Errorf("cannot read pg_stat_ssl: %w", err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("pg_stat_ssl shows no connection of %q: the hub is not connected", pguser)
	}
	for _, row := range rows {
		if field(row, "ssl") != starlark.True {
			return fmt.Errorf("a connection of %q is not encrypted; check that the SMC_DB_SSL_* variables are set and pg_hba uses hostssl", pguser)
		}
		dn := fieldString(row, "client_dn")
		if clientCert && !strings.Contains(dn, "CN="+pguser) {
			return fmt.Errorf("a connection of %q is encrypted but presents client certificate DN %q, want CN=%s", pguser, dn, pguser)
		}
	}
	return nil
}

func accounts(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var session starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "session", &session); err != nil {
		return nil, err
	}

	rows, err := query(thread, session, "select account_id::text as account_id, email_address from accounts order by email_address")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out := make([]starlark.Value, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return starlark.NewList(out), nil
}
