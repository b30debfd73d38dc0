package postgres_test

import (
	"strings"
	"testing"
)

// TestHelpersRerunUnchanged runs role, database and grant twice as the
// superuser: the second run changes nothing, and the role can log in and
// create a table in schema public of its database.
func TestHelpersRerunUnchanged(t *testing.T) {
	s := mainServer(t)
	src := `
admin = postgres.connect(**ADMIN)
postgres.role(admin, "smc", password = "smc pass 'x'", createdb = True)
postgres.database(admin, "smc_db", owner = "smc")
postgres.role(admin, "reader", password = "reader pass")
postgres.grant(admin, "ALL", on_database = "smc_db", to = "reader")
postgres.grant(admin, ["USAGE", "CREATE"], on_schema = "public", to = "reader", database = "smc_db")
`
	f := fixture(t)
	mustRun(t, f, s, src)
	if got, want := strings.Join(f.Statuses(), ","), "created,created,created,changed,changed"; got != want {
		t.Errorf("first run: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}

	f = fixture(t)
	mustRun(t, f, s, src)
	if got, want := strings.Join(f.Statuses(), ","), "unchanged,unchanged,unchanged,unchanged,unchanged"; got != want {
		t.Errorf("rerun: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}

	f = fixture(t)
	mustRun(t, f, s, `
db = postgres.connect(host = "localhost", port = PORT, user = "reader", database = "smc_db",
    password = "reader pass", sslmode = "verify-full", sslrootcert = CA)
db.exec("create table public.t_reader (id int)")
rows = db.query("select tableowner from pg_tables where tablename = 't_reader'")
if rows != [{"tableowner": "reader"}]:
    fail(rows)
`)
}

// TestRoleChangesOnlyDifferences changes one attribute and the password
// and reports each difference.
func TestRoleChangesOnlyDifferences(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	mustRun(t, f, s, `
admin = postgres.connect(**ADMIN)
postgres.role(admin, "chg", password = "first pass")
postgres.role(admin, "chg", password = "second pass", createrole = True)
`)
	out := f.Stderr.String()
	for _, want := range []string{"createrole: false, want true", "password: differs"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	mustRun(t, f, s, `
postgres.connect(host = "localhost", port = PORT, user = "chg", database = "postgres",
    password = "second pass", sslmode = "verify-full", sslrootcert = CA)
`)
}

// TestRoleAsNonSuperuser checks a password the way a managed database's
// administrator must: pg_authid is not readable, so the helper logs in as
// the role over the same host and TLS settings.
func TestRoleAsNonSuperuser(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	mustRun(t, f, s, `
admin = postgres.connect(**ADMIN)
postgres.role(admin, "mgr", password = "mgr pass", createrole = True, createdb = True)
mgr = postgres.connect(host = "localhost", port = PORT, user = "mgr", database = "postgres",
    password = "mgr pass", sslmode = "verify-full", sslrootcert = CA)
postgres.role(mgr, "managed_app", password = "app pass")
postgres.role(mgr, "managed_app", password = "app pass")
postgres.role(mgr, "managed_app", password = "new app pass")
`)
	if got, want := strings.Join(f.Statuses(), ","), "created,created,unchanged,changed"; got != want {
		t.Errorf("statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}
	if out := f.Stderr.String(); !strings.Contains(out, "a login with it failed") {
		t.Errorf("the change does not say how the password was checked:\n%s", out)
	}
}

// TestDatabaseOwnerDrift reports a database with another owner as drift.
func TestDatabaseOwnerDrift(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	err := run(t, f, s, `
admin = postgres.connect(**ADMIN)
postgres.role(admin, "owner_a", login = False)
postgres.role(admin, "owner_b", login = False)
postgres.database(admin, "drift_db", owner = "owner_a")
postgres.database(admin, "drift_db", owner = "owner_b")
`)
	msg := f.ErrorText(err)
	for _, want := range []string{"/work/test.star:10:18:", `owner: "owner_a", want "owner_b"`, "ALTER DATABASE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// TestSettingReportsRestart sets a reloadable setting and one that needs a
// restart, and reruns both.
func TestSettingReportsRestart(t *testing.T) {
	s, err := ownServer(t, "settings", serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := `
admin = postgres.connect(**ADMIN)
postgres.setting(admin, "work_mem", "8MB")
postgres.setting(admin, "shared_buffers", "256MB")
postgres.setting(admin, "log_connections", True)
`
	f := fixture(t)
	mustRun(t, f, s, src)
	if got, want := strings.Join(f.Statuses(), ","), "changed,changed,changed"; got != want {
		t.Errorf("first run: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}
	if out := f.Stderr.String(); !strings.Contains(out, "takes effect after the server restarts") {
		t.Errorf("shared_buffers does not say it needs a restart:\n%s", out)
	}

	f = fixture(t)
	mustRun(t, f, s, src+`
rows = admin.query("select current_setting('work_mem') as w")
if rows != [{"w": "8MB"}]:
    fail(rows)
`)
	if got, want := strings.Join(f.Statuses(), ","), "unchanged,warning,unchanged"; got != want {
		t.Errorf("rerun: statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}
}

// TestDryRunChangesNothing runs the helpers under --dry-run. They read the
// server, report "would create" and create nothing. A write through query
// fails because the session is read-only.
func TestDryRunChangesNothing(t *testing.T) {
	s := mainServer(t)
	f := fixture(t)
	f.Env.DryRun = true
	mustRun(t, f, s, `
admin = postgres.connect(**ADMIN)
postgres.role(admin, "dry_role", password = "dry pass")
postgres.database(admin, "dry_db", owner = "dry_role")
postgres.grant(admin, "ALL", on_database = "dry_db", to = "dry_role")
n = admin.exec("create table dry_t (id int)")
`)
	if got, want := strings.Join(f.Statuses(), ","), "would create,would create,would change,would run"; got != want {
		t.Errorf("statuses %s, want %s\n%s", got, want, f.Stderr.String())
	}

	err := run(t, f, s, `postgres.connect(**ADMIN).query("create table dry_t2 (id int) ; select 1 as x")`)
	if msg := f.ErrorText(err); !strings.Contains(msg, "a query must be one statement") {
		t.Errorf("two statements in a query: %s", msg)
	}
	err = run(t, f, s, `postgres.connect(**ADMIN).query("with x as (insert into pg_temp.nothing values (1) returning 1) select * from x")`)
	if err == nil {
		t.Error("a write under --dry-run succeeded")
	}

	f.Env.DryRun = false
	mustRun(t, f, s, `
admin = postgres.connect(**ADMIN)
if admin.query("select count(*) as n from pg_roles where rolname = 'dry_role'") != [{"n": 0}]:
    fail("dry run created the role")
if admin.query("select count(*) as n from pg_database where datname = 'dry_db'") != [{"n": 0}]:
    fail("dry run created the database")
`)
}
