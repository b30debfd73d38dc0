package postgres_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestVerifyFullClientCert connects with verify-full and a client
// certificate to a server whose pg_hba.conf admits TCP only through
// `hostssl ... cert`, and reads from pg_stat_ssl that the connection is
// encrypted with that client's DN.
func TestVerifyFullClientCert(t *testing.T) {
	s := certServer(t)
	certFile, keyFile, err := s.TLS.client("certuser", "certuser", "")
	if err != nil {
		t.Fatal(err)
	}
	f := fixture(t)
	mustRun(t, f, s, fmt.Sprintf(`
admin = postgres.connect(**ADMIN)
admin.exec("create role certuser login")
db = postgres.connect(host = "localhost", port = PORT, user = "certuser", database = "postgres",
    sslmode = "verify-full", sslrootcert = CA, sslcert = %q, sslkey = %q)
rows = db.query("select ssl, version, client_dn from pg_stat_ssl where pid = pg_backend_pid()")
if rows != [{"ssl": True, "version": rows[0]["version"], "client_dn": "/CN=certuser"}]:
    fail("pg_stat_ssl: %%r" %% rows)
if not rows[0]["version"].startswith("TLS"):
    fail("version: %%r" %% rows[0]["version"])
`, certFile, keyFile))
}

// TestEncryptedClientKey reads a client key encrypted as PKCS#8 with a
// passphrase, and names the fix when the passphrase is missing.
func TestEncryptedClientKey(t *testing.T) {
	s := certServer(t)
	certFile, keyFile, err := s.TLS.client("certuser-enc", "certuser", "pass phrase é")
	if err != nil {
		t.Fatal(err)
	}
	f := fixture(t)
	mustRun(t, f, s, fmt.Sprintf(`
postgres.connect(**ADMIN).exec("do $$ begin create role certuser login; exception when duplicate_object then null; end $$")
db = postgres.connect(host = "localhost", port = PORT, user = "certuser", database = "postgres",
    sslmode = "verify-full", sslrootcert = CA, sslcert = %q, sslkey = %q, sslkey_passphrase = "pass phrase é")
rows = db.query("select client_dn from pg_stat_ssl where pid = pg_backend_pid()")
if rows[0]["client_dn"] != "/CN=certuser":
    fail(rows)
`, certFile, keyFile))

	err = run(t, f, s, fmt.Sprintf(`postgres.connect(host = "localhost", port = PORT, user = "certuser",
    sslmode = "verify-full", sslrootcert = CA, sslcert = %q, sslkey = %q)`, certFile, keyFile))
	if msg := f.ErrorText(err); !strings.Contains(msg, "the key is encrypted: pass its passphrase as sslkey_passphrase") {
		t.Errorf("error without passphrase:\n%s", msg)
	}
}

// TestServerName verifies the certificate against server_name while
// dialling an IP address the certificate does not name.
func TestServerName(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	mustRun(t, f, s, `
postgres.connect(**ADMIN).exec("do $$ begin create role sn_user login password 'sn secret 1'; exception when duplicate_object then null; end $$")
db = postgres.connect(host = "127.0.0.1", port = PORT, user = "sn_user", database = "postgres",
    password = "sn secret 1", sslmode = "verify-full", sslrootcert = CA, server_name = "db.test")
rows = db.query("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
if rows != [{"ssl": True}]:
    fail(rows)
`)
}

// TestSSLModes checks libpq's meaning of each sslmode against a server
// that rejects plain TCP connections.
func TestSSLModes(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	mustRun(t, f, s, `postgres.connect(**ADMIN).exec("do $$ begin create role mode_user login password 'mode secret'; exception when duplicate_object then null; end $$")`)
	cases := []struct {
		args string
		want string // "ok" or part of the error
	}{
		{`sslmode = "allow", host = "localhost"`, "ok"},
		{`sslmode = "prefer", host = "localhost"`, "ok"},
		{`sslmode = "require", host = "localhost"`, "ok"},
		{`sslmode = "verify-ca", sslrootcert = CA, host = "127.0.0.1"`, "ok"},
		{`sslmode = "verify-full", sslrootcert = CA, host = "localhost"`, "ok"},
		{`sslmode = "verify-full", sslrootcert = CA, host = "127.0.0.1"`, "not \"127.0.0.1\""},
		// libpq: require with a root certificate verifies the chain as
		// verify-ca does, so a wrong CA fails.
		{`sslmode = "require", sslrootcert = "other-ca.crt", host = "localhost"`, "not signed by a CA in sslrootcert"},
		{`sslmode = "disable", host = "localhost"`, "only over TLS"},
	}
	other, err := newTestTLS(f.Env.Root + "/other")
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(other.CA, f.Env.Root+"/other-ca.crt"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		f.ResetOutput()
		src := fmt.Sprintf(`
db = postgres.connect(port = PORT, user = "mode_user", database = "postgres", password = "mode secret", %s)
db.query("select 1 as one")
`, c.args)
		err := run(t, f, s, src)
		switch {
		case c.want == "ok" && err != nil:
			t.Errorf("%s: %s", c.args, f.ErrorText(err))
		case c.want != "ok" && !strings.Contains(f.ErrorText(err), c.want):
			t.Errorf("%s: want an error with %q, got:\n%s", c.args, c.want, f.ErrorText(err))
		}
	}
}

// TestOddPasswords sets passwords with quotes, @, /, %, :, spaces and
// non-ASCII characters through postgres.role and logs in with each, from a
// secret and from a password file.
func TestOddPasswords(t *testing.T) {
	s := mainServer(t)
	passwords := []string{
		`it's "quoted"`, `user@host/db:5432%20`, `back\slash\\ and $1 and :'name'`,
		"spaces  inside\tit", "ünïcødé 密码 пароль", `%41%`, `--;/*`,
	}
	for i, pw := range passwords {
		f := fixture(t)
		pwFile := f.Env.Root + "/pw"
		if err := writeFile(pwFile, pw+"\n", 0o600); err != nil {
			t.Fatal(err)
		}
		role := fmt.Sprintf("odd_%d", i)
		mustRun(t, f, s, fmt.Sprintf(`
admin = postgres.connect(**ADMIN)
postgres.role(admin, %[1]q, password = secret.file("pw", create = False))
db = postgres.connect(host = "localhost", port = PORT, user = %[1]q, database = "postgres",
    password_file = "pw", sslmode = "verify-full", sslrootcert = CA)
if db.query("select current_user as u") != [{"u": %[1]q}]:
    fail("wrong user")
postgres.role(admin, %[1]q, password = secret.file("pw", create = False))
`, role))
		if got := f.Statuses(); strings.Join(got, ",") != "created,unchanged" {
			t.Errorf("password %q: statuses %v, want created then unchanged", pw, got)
		}
	}
}
