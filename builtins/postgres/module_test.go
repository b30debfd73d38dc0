package postgres_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/postgres"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

// newFixture returns a fixture whose postgres backend is a fake with a
// server at db.test:5432, reached over TLS with the password "admin pass".
func newFixture(t *testing.T) (*runtimetest.Fixture, *postgres.FakeServer) {
	f := runtimetest.New(t, postgres.Module, secret.Module)
	fake := postgres.NewFake()
	server := fake.Server("db.test:5432")
	server.Roles["postgres"].Password, _ = postgres.ScramVerifier("admin pass")
	server.HBA = []postgres.FakeHBA{{Type: "hostssl", Database: "all", User: "all", Method: "scram-sha-256"}}
	f.Env.SetBackend(postgres.BackendKey, fake)
	return f, server
}

const connectAdmin = `admin = postgres.connect(host = "db.test", user = "postgres", password = "admin pass", sslmode = "require")
`

func statuses(f *runtimetest.Fixture) string { return strings.Join(f.Statuses(), ",") }

func TestHelpersOnFake(t *testing.T) {
	f, server := newFixture(t)
	src := connectAdmin + `
postgres.role(admin, "smc", password = "smc pass", createdb = True)
postgres.database(admin, "smc", owner = "smc")
postgres.role(admin, "reader", login = False)
postgres.grant(admin, "ALL", on_database = "smc", to = "reader")
postgres.grant(admin, "CREATE", on_schema = "public", to = "reader", database = "smc")
postgres.setting(admin, "work_mem", "8MB")
postgres.setting(admin, "shared_buffers", "256MB")
`
	f.MustRun(src)
	if got, want := statuses(f), "created,created,created,changed,changed,changed,changed"; got != want {
		t.Errorf("first run: %s; want %s\n%s", got, want, f.Stderr.String())
	}
	role := server.Roles["smc"]
	if role == nil || !role.Login || !role.CreateDB || !postgres.ScramMatches(role.Password, "smc pass") {
		t.Errorf("role smc = %+v", role)
	}
	if db := server.Databases["smc"]; db == nil || db.Owner != "smc" || db.Encoding != "UTF8" {
		t.Errorf("database smc = %+v", db)
	}
	for _, stmt := range server.Executed() {
		if strings.Contains(stmt, "smc pass") {
			t.Errorf("a statement holds the plain password: %s", stmt)
		}
	}

	f.ResetOutput()
	f.MustRun(src)
	if got, want := statuses(f), "unchanged,unchanged,unchanged,unchanged,unchanged,unchanged,warning"; got != want {
		t.Errorf("rerun: %s; want %s\n%s", got, want, f.Stderr.String())
	}
}

func TestRoleOnFakeChangesPassword(t *testing.T) {
	f, server := newFixture(t)
	f.MustRun(connectAdmin + `
postgres.role(admin, "app", password = "one")
postgres.role(admin, "app", password = "two")
`)
	if got := statuses(f); got != "created,changed" {
		t.Errorf("statuses %s; want created,changed", got)
	}
	if !postgres.ScramMatches(server.Roles["app"].Password, "two") {
		t.Error("the password was not changed")
	}
}

func TestDatabaseDriftOnFake(t *testing.T) {
	f, server := newFixture(t)
	server.Roles["other"] = &postgres.FakeRole{}
	server.Databases["smc"] = &postgres.FakeDatabase{Owner: "other", Encoding: "UTF8"}
	err := f.Run(connectAdmin + `postgres.role(admin, "smc")
postgres.database(admin, "smc", owner = "smc")
`)
	msg := f.ErrorText(err)
	for _, want := range []string{"/work/test.star:3:18:", `owner: "other", want "smc"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(f.Stderr.String(), "drift") {
		t.Errorf("no drift line:\n%s", f.Stderr.String())
	}
}

func TestDryRunOnFake(t *testing.T) {
	f, server := newFixture(t)
	f.Env.DryRun = true
	f.MustRun(connectAdmin + `
postgres.role(admin, "smc", password = "x pass")
postgres.database(admin, "smc", owner = "smc")
postgres.grant(admin, "ALL", on_database = "smc", to = "smc")
n = admin.exec("select 1")
print(n)
`)
	if got, want := statuses(f), "would create,would create,would change,would run"; got != want {
		t.Errorf("statuses %s; want %s\n%s", got, want, f.Stderr.String())
	}
	if !strings.Contains(f.Stderr.String(), "(known after apply)") {
		t.Errorf("exec under dry run did not return an unknown:\n%s", f.Stderr.String())
	}
	if _, ok := server.Roles["smc"]; ok {
		t.Error("the dry run created a role")
	}
}

func TestConnectErrors(t *testing.T) {
	cases := []struct {
		src  string
		want []string
	}{
		{`postgres.connect("postgresql://u:secret-pw@db.test/x")`, []string{"1:17:", "the DSN holds a password", "password=secret.file"}},
		{`postgres.connect("host=db.test password='a b'")`, []string{"the DSN holds a password"}},
		{`postgres.connect("host=db.test bogus=1")`, []string{`the DSN sets "bogus"`}},
		{`postgres.connect(host = "db.test", sslmode = "verify")`, []string{`sslmode "verify" is not valid`}},
		{`postgres.connect(host = "db.test", port = 70000)`, []string{`port "70000" is not a port number`}},
		{`postgres.connect(host = "db.test", password = "x", password_file = "pw")`, []string{"password and password_file are both given"}},
		{`postgres.connect(host = "db.test", user = "postgres", password = "wrong", sslmode = "require")`, []string{"password authentication failed", "hint: the password is wrong"}},
		{`postgres.connect(host = "db.test", sslmode = "verify-full", sslrootcert = "missing.crt")`, []string{"cannot read sslrootcert /work/missing.crt"}},
		{`postgres.connect(host = "db.test", sslmode = "require", sslcert = "c.crt")`, []string{"sslcert and sslkey go together"}},
	}
	for _, c := range cases {
		f, _ := newFixture(t)
		err := f.Run(c.src)
		msg := f.ErrorText(err)
		if err == nil {
			t.Errorf("%s succeeded", c.src)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error lacks %q:\n%s", c.src, w, msg)
			}
		}
		if strings.Contains(msg, "secret-pw") {
			t.Errorf("%s: the error shows the password:\n%s", c.src, msg)
		}
	}
}

func TestPasswordFileMode(t *testing.T) {
	f, _ := newFixture(t)
	if err := f.FS.WriteFile("/work/pw", []byte("admin pass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.Run(`postgres.connect(host = "db.test", user = "postgres", password_file = "pw", sslmode = "require")`)
	if msg := f.ErrorText(err); !strings.Contains(msg, "chmod 600 /work/pw") {
		t.Errorf("error: %s", msg)
	}
	if err := f.FS.Chmod("/work/pw", 0o600); err != nil {
		t.Fatal(err)
	}
	f.MustRun(`postgres.connect(host = "db.test", user = "postgres", password_file = "pw", sslmode = "require")`)
}

func TestLibpqEnvironment(t *testing.T) {
	f, _ := newFixture(t)
	t.Setenv("PGHOST", "db.test")
	t.Setenv("PGPORT", "5432")
	t.Setenv("PGUSER", "postgres")
	t.Setenv("PGDATABASE", "postgres")
	t.Setenv("PGSSLMODE", "require")
	t.Setenv("PGPASSWORD", "must not be read")
	f.MustRun(`
db = postgres.connect(password = "admin pass")
if db.user != "postgres" or db.database != "postgres":
    fail(db)
`)
	t.Setenv("PGPORT", "5433")
	err := f.Run(`postgres.connect(password = "admin pass")`)
	if msg := f.ErrorText(err); !strings.Contains(msg, "db.test:5433") {
		t.Errorf("PGPORT was not used: %s", msg)
	}
}

func TestQueryAndExecOnFake(t *testing.T) {
	f, server := newFixture(t)
	server.Register("select name from t where id = $1", &postgres.Result{Columns: []string{"name"}, Rows: [][]any{{"x"}}})
	server.RegisterExec("delete from t", 3)
	f.MustRun(connectAdmin + `
if admin.query("select name from t where id = $1", 1) != [{"name": "x"}]:
    fail("query")
if postgres.query(admin, "select name from t where id = $1", 1) != [{"name": "x"}]:
    fail("module query")
if postgres.exec(admin, "delete from t") != 3:
    fail("exec")
`)
	err := f.Run(connectAdmin + `admin.query("select nothing")`)
	msg := f.ErrorText(err)
	for _, want := range []string{"/work/test.star:2:12:", "session.query", "no result for \"select nothing\"", "FakeServer.Register"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	err = f.Run(connectAdmin + `admin.query("select $1::int as a", key = 1)`)
	if msg := f.ErrorText(err); !strings.Contains(msg, "takes no keyword arguments") {
		t.Errorf("keyword argument: %s", msg)
	}
	err = f.Run(connectAdmin + `admin.query("select $1::int as a", {})`)
	if msg := f.ErrorText(err); !strings.Contains(msg, "argument $1: cannot send a dict") {
		t.Errorf("dict argument: %s", msg)
	}
}

func TestLogHint(t *testing.T) {
	log := `2026-01-01 00:00:00 UTC [1] FATAL:  private key file "/etc/ssl/server.key" has group or world access
2026-01-01 00:00:00 UTC [1] DETAIL:  File must have permissions u=rw (0600) or less if owned by the database user.`
	if h := postgres.LogHint(log); !strings.Contains(h, "/etc/ssl/server.key") || !strings.Contains(h, "0600") {
		t.Errorf("LogHint = %q", h)
	}
	if h := postgres.LogHint("LOG:  database system is ready to accept connections"); h != "" {
		t.Errorf("LogHint of a healthy log = %q", h)
	}
}

func TestWaitOnFake(t *testing.T) {
	f, server := newFixture(t)
	server.Starting = true
	err := f.Run(`postgres.wait(host = "db.test", user = "postgres", password = "admin pass", sslmode = "require", timeout = "300ms")`)
	msg := f.ErrorText(err)
	for _, want := range []string{"within 300ms", "57P03", "hint: the server is starting up"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	server.Starting = false
	f.ResetOutput()
	f.MustRun(`postgres.wait(host = "db.test", user = "postgres", password = "admin pass", sslmode = "require")`)
	if got := statuses(f); got != "unchanged" {
		t.Errorf("statuses %s", got)
	}
}
