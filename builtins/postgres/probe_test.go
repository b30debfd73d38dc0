package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// probeFixture returns a fixture with a fake server at db.test:5432 whose
// role postgres has the password "admin pass".
func probeFixture(t *testing.T) *runtimetest.Fixture {
	f := runtimetest.New(t, Module, secret.Module)
	fake := NewFake()
	server := fake.Server("db.test:5432")
	server.Roles["postgres"].Password, _ = ScramVerifier("admin pass")
	server.HBA = []FakeHBA{{Type: "hostssl", Database: "all", User: "all", Method: "scram-sha-256"}}
	f.Env.SetBackend(BackendKey, fake)
	return f
}

const probeAdmin = `admin = postgres.connect(host = "db.test", user = "postgres", password = "admin pass", sslmode = "require")
`

func TestCanLoginOnFake(t *testing.T) {
	f := probeFixture(t)
	f.MustRun(probeAdmin + `
if not postgres.can_login(admin, "postgres", "admin pass"):
    fail("the right password does not log in")
if postgres.can_login(admin, "postgres", "wrong pass"):
    fail("a wrong password logs in")
if postgres.can_login(admin, "nobody", "admin pass"):
    fail("an unknown role logs in")
if postgres.can_login(admin, "postgres", secret.format("{}", "admin pass")) != True:
    fail("a secret password does not log in")
`)
	if got := f.Statuses(); len(got) != 0 {
		t.Errorf("can_login reported steps %v; it is a read", got)
	}
}

func TestCanLoginErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{probeAdmin + `postgres.can_login(admin, "", "x")`, "postgres.can_login: user is empty"},
		{probeAdmin + `postgres.can_login(admin, "postgres", None)`, "postgres.can_login: password is None"},
		{probeAdmin + `postgres.can_login(admin, "postgres")`, "missing argument for password"},
	}
	for _, c := range cases {
		f := probeFixture(t)
		if msg := f.ErrorText(f.Run(c.src)); !strings.Contains(msg, c.want) {
			t.Errorf("%s:\ngot %s\nwant it to contain %q", c.src, msg, c.want)
		}
	}
}

func TestCanLoginUnknownPasswordUnderDryRun(t *testing.T) {
	f := probeFixture(t)
	f.Env.DryRun = true
	f.MustRun(probeAdmin + `
if postgres.can_login(admin, "postgres", secret.file("/work/missing")) != False:
    fail("a password known only after apply logs in")
`)
}

func TestListenNotifyOnFake(t *testing.T) {
	f := probeFixture(t)
	f.MustRun(probeAdmin + `postgres.listen_notify(admin, timeout = 2)`)
	if got := strings.Join(f.Statuses(), ","); got != "unchanged" {
		t.Errorf("statuses %s, want unchanged\n%s", got, f.Stderr.String())
	}
}

func TestListenNotifyRejectsBadTimeout(t *testing.T) {
	f := probeFixture(t)
	msg := f.ErrorText(f.Run(probeAdmin + `postgres.listen_notify(admin, timeout = 0)`))
	for _, want := range []string{"/work/test.star:2:23:", "timeout 0 is not positive"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestAuthenticationFailed(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "28P01", Message: `password authentication failed for user "x"`}, true},
		{&pgconn.PgError{Code: "08P01", Message: "SASL authentication failed"}, true},
		{&pgconn.PgError{Code: "08P01", Message: "no such user"}, true},
		{&pgconn.PgError{Code: "XX000", Message: "Tenant or user not found"}, true},
		{fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28P01"}), true},
		{&pgconn.PgError{Code: "28000", Message: `role "x" does not exist`}, true},
		{&pgconn.PgError{Code: "28000", Message: `no pg_hba.conf entry for host "10.0.0.1"`}, false},
		{&pgconn.PgError{Code: "08P01", Message: "unsupported startup parameter: x"}, false},
		{&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, false},
		{errors.New("dial tcp 10.0.0.1:5432: connect: connection refused"), false},
	}
	for _, c := range cases {
		if got := authenticationFailed(c.err); got != c.want {
			t.Errorf("authenticationFailed(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
