package managed

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

const (
	// supabaseHost is the Supabase look-alike's DNS name on the test
	// network, in the form of Supabase's shared pooler hosts.
	supabaseHost = "aws-0-test-region-1.pooler.supabase.test"
	// projectRef is the look-alike's project reference.
	projectRef = "abcdefghijklmnopqrst"
)

func startSupabase(e *testEnv) *lookalike {
	return e.startLookalike("supabase", supabaseHost, map[string]string{
		"project_ref": projectRef,
		"databases":   "postgres postgres\ncocalc cocalc\n",
	})
}

// supabaseSQL runs a query on the Supabase look-alike's server as its
// bootstrap superuser.
func supabaseSQL(t *testing.T, db *lookalike, database, query string) string {
	t.Helper()
	return db.sql(t, "supabase_admin", 5433, database, query)
}

// poolerClients returns the session pooler's SHOW CLIENTS rows as maps from
// column name to value.
func poolerClients(t *testing.T, db *lookalike) []map[string]string {
	t.Helper()
	out := docker(t, "exec", "--env", "PGPASSWORD=stats", db.container, "psql", "-X", "-A", "-F", "|",
		"host=127.0.0.1 port=5432 dbname=pgbouncer user=stats sslmode=require", "-c", "show clients")
	lines := strings.Split(out, "\n")
	header := strings.Split(lines[0], "|")
	var rows []map[string]string
	for _, line := range lines[1:] {
		fields := strings.Split(line, "|")
		if len(fields) != len(header) {
			continue // the "(N rows)" footer
		}
		row := map[string]string{}
		for i, name := range header {
			row[name] = fields[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// TestSupabaseEndToEnd runs scripts/supabase.star against the Supabase
// look-alike with the CoCalc stand-in: the transaction pooler is refused,
// then the session pooler works end to end, over TLS on both hops, and
// reruns change nothing.
func TestSupabaseEndToEnd(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	db := startSupabase(e)
	d := e.newDeployment("supabase.star", db, "project_ref", projectRef)

	r := d.run(t, "", "db_port", "6543")
	assertRefused(t, r, "db_port 6543 is Supabase's transaction pooler", "use the session pooler on port 5432")
	d.assertNothingCreated(t)

	// The notification check itself fails on the transaction pooler when
	// a script connects there anyway.
	forced := e.writeFile("forced.star", []byte(fmt.Sprintf(`
def main():
    s = postgres.connect(host = %q, server_name = %q, port = 6543, user = "postgres.%s", database = "postgres",
        password = secret.file(%q, create = False), sslmode = "verify-full", sslrootcert = %q)
    postgres.listen_notify(s, timeout = 3)
`, db.ip, db.host, projectRef, db.adminPW, db.caFile)), 0o644)
	r = runBinary(t, "run", forced)
	assertRefused(t, r, "did not reach a connection that ran LISTEN there within 3s", "session mode")
	if got := supabaseSQL(t, db, "postgres", "select count(*) from pg_roles where rolname = 'cocalc'"); got != "0" {
		t.Errorf("a refused run created role cocalc")
	}

	r = d.mustRun(t, "")
	for _, want := range []string{"a notification arrived", "the accounts table exists, owned by cocalc"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the run's output lacks %q:\n%s", want, r)
		}
	}
	if got := supabaseSQL(t, db, "postgres", "select pg_get_userbyid(datdba) from pg_database where datname = 'cocalc'"); got != "cocalc" {
		t.Errorf("database cocalc belongs to %q, want cocalc", got)
	}
	if got := supabaseSQL(t, db, "cocalc", "select tableowner from pg_tables where tablename = 'accounts'"); got != "cocalc" {
		t.Errorf("the accounts table belongs to %q, want cocalc", got)
	}

	// The sidecar logs in to the session pooler as cocalc.PROJECTREF over
	// TLS, and the pooler reaches the server over TLS.
	sidecarIP := e.containerIP(d.sidecar())
	var fromSidecar int
	for _, c := range poolerClients(t, db) {
		if c["addr"] != sidecarIP {
			continue
		}
		fromSidecar++
		if c["user"] != "cocalc."+projectRef {
			t.Errorf("the sidecar logs in to the pooler as %q, want cocalc.%s", c["user"], projectRef)
		}
		if !strings.HasPrefix(c["tls"], "TLS") {
			t.Errorf("a connection of the sidecar to the pooler uses no TLS (tls column %q)", c["tls"])
		}
	}
	if fromSidecar == 0 {
		t.Errorf("the session pooler has no client connection from the sidecar at %s", sidecarIP)
	}
	got := supabaseSQL(t, db, "postgres", "select count(*) filter (where s.ssl), count(*) from pg_stat_ssl s join pg_stat_activity a using (pid) "+
		"where a.usename = 'cocalc'")
	if fields := strings.Split(got, "|"); len(fields) != 2 || fields[0] != fields[1] || fields[1] == "0" {
		t.Errorf("pg_stat_ssl: %q of cocalc's connections use TLS (encrypted|all), want all and at least one", got)
	}
	d.assertSecretsHidden(t)
	d.signUpAndFind(t, "ada@supabase.example.org")

	assertConverged(t, d.mustRun(t, ""), "the second run")
	assertConverged(t, d.mustRun(t, "", "--dry-run"), "a dry run after the run")
	d.mustRun(t, "verify")

	db.remove(t)
	d.mustRun(t, "down", "--yes")
	d.assertRemoved(t)
}

// TestSupabaseChecksBeforeConnecting gives the script Supabase endpoints it
// must refuse; each fails with its cause and fix before any connection.
func TestSupabaseChecksBeforeConnecting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := &testEnv{t: t, dir: dir, prefix: "cctl-nothing-"}
	ca := e.writeFile("ca.pem", newTestCA(t, "Test Supabase root CA").certPEM, 0o644)
	password := e.writeFile("admin-password", []byte("unused\n"), 0o600)
	base := map[string]string{
		"host": supabaseHost, "project_ref": projectRef, "ca_file": ca, "admin_password_file": password,
		"workdir": filepath.Join(dir, "work"), "prefix": e.prefix,
	}

	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"transaction pooler", []string{"db_port", "6543"},
			[]string{"transaction pooler", "LISTEN/NOTIFY", "session pooler on port 5432"}},
		{"direct host", []string{"host", "db." + projectRef + ".supabase.co"},
			[]string{"only an IPv6 address", "IPv4 only", "session pooler's host"}},
		{"project reference too short", []string{"project_ref", "abc"},
			[]string{`project_ref "abc" is not a Supabase project reference`, "https://REF.supabase.co"}},
		{"project reference in upper case", []string{"project_ref", "ABCDEFGHIJKLMNOPQRST"},
			[]string{"is not a Supabase project reference"}},
		{"role with the project reference", []string{"role", "cocalc." + projectRef},
			[]string{"is not a plain SQL name", "without any suffix that a pooler adds"}},
		{"administrator with the project reference", []string{"admin_user", "postgres." + projectRef},
			[]string{`admin_user "postgres.` + projectRef + `" is not a plain SQL name`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := cocalcctlRun(t, "supabase.star", "", copyMap(base, c.args...))
			assertRefused(t, r, append(c.wants, "Supabase at ")...)
			if strings.Contains(r.stderr, "postgres.connect") {
				t.Errorf("the run connected before it refused:\n%s", r)
			}
		})
	}
}
