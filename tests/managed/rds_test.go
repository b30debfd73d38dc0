package managed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rdsHost is the RDS look-alike's DNS name on the test network. Its
// certificate names only this name.
const rdsHost = "cocalc-db.abcdefghijkl.test-region-1.rds.test"

// rdsSQL runs a query on the RDS look-alike as its bootstrap superuser.
func rdsSQL(t *testing.T, db *lookalike, query string) string {
	t.Helper()
	return db.sql(t, "rdsadmin", 5432, "postgres", query)
}

// TestRDSEndToEnd runs scripts/rds.star against the RDS look-alike with the
// CoCalc stand-in: a dry run first, then the run, the checks on the server,
// a sign-up, reruns that change nothing, and down.
func TestRDSEndToEnd(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	db := e.startLookalike("rds", rdsHost, nil)
	d := e.newDeployment("rds.star", db)

	r := d.mustRun(t, "", "--dry-run")
	if !strings.Contains(r.stderr, "would create  postgres.role(") {
		t.Errorf("the dry run does not say it would create the role:\n%s", r)
	}
	d.assertNothingCreated(t)
	if got := rdsSQL(t, db, "select count(*) from pg_roles where rolname = 'cocalc'"); got != "0" {
		t.Errorf("the dry run created role cocalc")
	}

	r = d.mustRun(t, "")
	for _, want := range []string{
		`ran           session.exec("GRANT \"cocalc\" TO CURRENT_USER")`,
		"the accounts table exists, owned by cocalc",
		"every connection of cocalc is encrypted",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the run's output lacks %q:\n%s", want, r)
		}
	}

	// On the server: CoCalc's role is no superuser, owns its database, and
	// the administrator became a member of it, as RDS requires.
	if got := rdsSQL(t, db, "select rolsuper, rolcanlogin from pg_roles where rolname = 'cocalc'"); got != "f|t" {
		t.Errorf("role cocalc: superuser|login = %q, want f|t", got)
	}
	if got := rdsSQL(t, db, "select pg_get_userbyid(datdba) from pg_database where datname = 'cocalc'"); got != "cocalc" {
		t.Errorf("database cocalc belongs to %q, want cocalc", got)
	}
	if got := rdsSQL(t, db, "select pg_has_role('postgres', 'cocalc', 'SET')"); got != "t" {
		t.Errorf("postgres may not SET ROLE cocalc (%q), so it could not create the database owned by cocalc", got)
	}
	if got := db.sql(t, "rdsadmin", 5432, "cocalc", "select tableowner from pg_tables where tablename = 'accounts'"); got != "cocalc" {
		t.Errorf("the accounts table belongs to %q, want cocalc", got)
	}

	// Every connection of CoCalc comes from the sidecar, encrypted; none
	// from the hub's own container.
	sidecarIP, hubIP := e.containerIP(d.sidecar()), e.containerIP(d.cocalc())
	got := rdsSQL(t, db, "select count(*) filter (where s.ssl), count(*) from pg_stat_ssl s join pg_stat_activity a using (pid) "+
		"where a.client_addr = '"+sidecarIP+"'")
	if fields := strings.Split(got, "|"); len(fields) != 2 || fields[0] != fields[1] || fields[1] == "0" {
		t.Errorf("pg_stat_ssl: %q of the sidecar's connections use TLS (encrypted|all), want all and at least one", got)
	}
	if got := rdsSQL(t, db, "select count(*) from pg_stat_activity where client_addr = '"+hubIP+"'"); got != "0" {
		t.Errorf("the hub's container has %s connections of its own to the database, want all through the sidecar", got)
	}
	d.assertSecretsHidden(t)
	d.signUpAndFind(t, "ada@rds.example.org")

	assertConverged(t, d.mustRun(t, ""), "the second run")
	assertConverged(t, d.mustRun(t, "", "--dry-run"), "a dry run after the run")
	d.mustRun(t, "verify")
	if r := d.mustRun(t, "status"); !strings.Contains(r.output(), d.sidecar()+": running") {
		t.Errorf("status does not show the sidecar running:\n%s", r)
	}

	// A new password for the role changes the role and the sidecar's
	// password list, which PgBouncer reloads: the run's own check through
	// the sidecar logs in with the new password.
	newPassword := e.writeFile("new-cocalc-password", []byte("a new password for cocalc\n"), 0o600)
	r = d.mustRun(t, "", "password_file", newPassword)
	for _, want := range []string{
		"changed       postgres.role(",
		"password: differs (a login with it failed)",
		`changed       docker.copy("` + d.sidecar() + `", "` + filepath.Join(e.workdir(), "pgbouncer", "userlist.txt"),
		`changed       docker.exec("` + d.sidecar() + `", "cd /etc/pgbouncer/cocalcctl && sha256sum`,
		"a notification arrived",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the run with a new password lacks %q:\n%s", want, r)
		}
	}
	assertConverged(t, d.mustRun(t, "", "password_file", newPassword), "a rerun with the new password")

	// down removes what the script made; the look-alike goes first, since
	// it shares the network.
	db.remove(t)
	d.mustRun(t, "down", "--yes")
	d.assertRemoved(t)
}

// TestRDSChecksBeforeCreating gives the script targets that cannot work and
// checks that each fails with its cause and fix before anything is created.
func TestRDSChecksBeforeCreating(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	db := e.startLookalike("rds", rdsHost, nil)
	rdsSQL(t, db, "CREATE ROLE weak LOGIN CREATEDB PASSWORD 'weak pass'")
	rdsSQL(t, db, "CREATE DATABASE taken")
	rdsSQL(t, db, "CREATE ROLE preexisting LOGIN")
	weakPW := e.writeFile("weak-password", []byte("weak pass\n"), 0o600)

	otherCA := newTestCA(t, "Test other CA")
	wrongCA := e.writeFile("wrong-ca.pem", otherCA.certPEM, 0o644)
	withKey := e.writeFile("with-key.pem", append(readFile(t, db.caFile), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")...), 0o644)
	cutOff := e.writeFile("cut-off.pem", []byte(strings.SplitAfter(string(readFile(t, db.caFile)), "-----END CERTIFICATE-----")[0]+
		"\n-----BEGIN CERTIFICATE-----\nMIIB\n"), 0o644)

	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"host is an IP address", []string{"host", db.ip},
			[]string{"host \"" + db.ip + "\" is not a DNS name", "dial_address"}},
		{"CA bundle with a private key", []string{"ca_bundle", withKey},
			[]string{"holds something else besides certificates"}},
		{"CA bundle cut off", []string{"ca_bundle", cutOff},
			[]string{"is cut off", "download it again"}},
		{"CA bundle missing", []string{"ca_bundle", filepath.Join(e.dir, "missing.pem")},
			[]string{"does not exist", "download the provider's CA bundle"}},
		{"CA that did not sign the server certificate", []string{"ca_bundle", wrongCA},
			[]string{"postgres.connect", "certificate"}},
		{"host name the certificate does not name", []string{"host", "other-db.abcdefghijkl.test-region-1.rds.test"},
			[]string{"postgres.connect", "other-db.abcdefghijkl.test-region-1.rds.test"}},
		{"administrator without CREATEROLE", []string{"admin_user", "weak", "admin_password_file", weakPW},
			[]string{"cannot create role cocalc (it lacks CREATEROLE)", "the master user"}},
		{"database of another owner", []string{"database", "taken"},
			[]string{"database taken exists and belongs to rdsadmin, not to cocalc", "ALTER DATABASE taken OWNER TO cocalc"}},
		{"role the administrator may not grant", []string{"role", "preexisting"},
			[]string{"must be a member of role preexisting", "GRANT preexisting TO postgres WITH ADMIN OPTION"}},
		{"role that is the administrator", []string{"role", "postgres"},
			[]string{"role \"postgres\" is also admin_user"}},
		{"port out of range", []string{"db_port", "70000"},
			[]string{"db_port 70000 is not a port number"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := e.newDeployment("rds.star", db, c.args...)
			assertRefused(t, d.run(t, ""), c.wants...)
			d.assertNothingCreated(t)
		})
	}
	if got := rdsSQL(t, db, "select count(*) from pg_roles where rolname = 'cocalc'"); got != "0" {
		t.Errorf("a refused run created role cocalc")
	}
	if got := rdsSQL(t, db, "select count(*) from pg_database where datname = 'cocalc'"); got != "0" {
		t.Errorf("a refused run created database cocalc")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
