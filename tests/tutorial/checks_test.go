package tutorial

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// checkCase is one broken setting that cocalc.run must reject before it
// starts anything: name is the script's broken argument, and want lists
// parts the message must contain, the cause and the fix.
type checkCase struct {
	name string
	want []string
}

// checksScript calls cocalc.run with one setting broken, chosen by the
// argument broken. The certificates, the projects folder and the password
// file are real files. The database and the network do not exist, and need
// not, because the checks fail before any container is made.
const checksScript = `def main(dir = "", prefix = "", port = 0, image = "", broken = "none"):
    ca = pki.ca(dir + "/ssl", common_name = "checks CA")
    server = ca.issue("server", common_name = "postgres", dns = ["postgres", "localhost"], usage = "server")
    server_no_localhost = ca.issue("server-no-localhost", common_name = "postgres", dns = ["postgres"], usage = "server")
    client = ca.issue("client", common_name = "cocalc", usage = "client")
    client_other = ca.issue("client-other", common_name = "someone", usage = "client")
    client_locked = ca.issue("client-locked", common_name = "cocalc", usage = "client", passphrase = "locked key passphrase")
    files.dir(dir + "/projects", mode = 0o755)
    secret.file(dir + "/projects/secrets/postgres")

    settings = dict(
        name = prefix + "cocalc",
        image = image,
        network = prefix + "cocalc-network",
        pghost = "postgres",
        pguser = "cocalc",
        database = "cocalc",
        projects_dir = dir + "/projects",
        password_file = dir + "/projects/secrets/postgres",
        auth = "cert",
        ca_file = ca.cert_file,
        client_cert = client.cert_file,
        client_key = client.key_file,
        server_cert = server.cert_file,
        port = port,
    )
    if broken == "pghost_ip":
        settings["pghost"] = "10.1.2.3"
    elif broken == "pghost_port":
        settings["pghost"] = "postgres:5433"
    elif broken == "db_port":
        settings["db_port"] = 5433
    elif broken == "server_cert_without_localhost":
        settings["server_cert"] = server_no_localhost.cert_file
    elif broken == "client_cn":
        settings["client_cert"] = client_other.cert_file
        settings["client_key"] = client_other.key_file
    elif broken == "client_files_without_ca":
        settings["ca_file"] = None
    elif broken == "client_key_passphrase":
        settings["client_cert"] = client_locked.cert_file
        settings["client_key"] = client_locked.key_file
    elif broken != "none":
        fail("unknown broken setting " + broken)
    cocalc.run(**settings)
`

// TestPreStartChecks breaks one setting of cocalc.run at a time, with
// certificates and files made by pki, secret and files. Each run must fail
// with exit code 1 at the script's cocalc.run line, name the cause and the
// fix, and make no container.
func TestPreStartChecks(t *testing.T) {
	t.Parallel()
	images.RequireEngine(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "checks.star")
	if err := os.WriteFile(script, []byte(checksScript), 0o644); err != nil {
		t.Fatal(err)
	}
	prefix := newPrefix()
	t.Cleanup(func() { removeContainers(t, prefix) })
	run := func(t *testing.T, broken string, flags ...string) runResult {
		args := append([]string{"run", "--json", script,
			"--arg", "dir=" + filepath.Join(dir, "work"), "--arg", "prefix=" + prefix, "--arg", "port=1",
			"--arg", "image=" + images.CoCalcStandin, "--arg", "broken=" + broken}, flags...)
		return runCocalcctl(t, args...)
	}

	for _, c := range []checkCase{
		{"pghost_ip", []string{`pghost "10.1.2.3" is not a DNS name`, `network alias, such as "postgres"`}},
		{"pghost_port", []string{`pghost "postgres:5433" contains a colon`, `give a DNS name`, `port 5432`}},
		{"db_port", []string{`db_port is 5433`, `port 5432`, `serve the database on 5432`}},
		{"server_cert_without_localhost", []string{`does not name "localhost"`, `issue it with dns=["postgres", "localhost"]`}},
		{"client_cn", []string{`CN is "someone" but pguser is "cocalc"`, `common_name="cocalc"`}},
		{"client_files_without_ca", []string{`without ca_file`, `pass ca_file`}},
		{"client_key_passphrase", []string{`protected by a passphrase`, `without passphrase`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireCheckFails(t, run(t, c.name), script, c.want, prefix+"cocalc")
		})
	}

	// The control: the same script with nothing broken passes every check
	// and would create the container, so each case above failed for its
	// own setting only. It runs last, under --dry-run, on the files that
	// the cases made, because a dry run skips checks of missing files.
	control := run(t, "none", "--dry-run")
	mustSucceed(t, control)
	steps := control.steps()
	if len(steps) == 0 {
		t.Fatalf("control: no steps:\n%s", control)
	}
	last := steps[len(steps)-1]
	if builtinOf(last.Call) != "docker.container" || last.Status != "would create" {
		t.Errorf("control: last step %s %s, want docker.container would create", last.Status, last.Call)
	}
}

// requireCheckFails checks that r failed in a pre-start check of cocalc.run
// at the line of cocalc.run in script, with every part of want in the
// message, and that the container named container does not exist.
func requireCheckFails(t *testing.T, r runResult, script string, want []string, container string) {
	t.Helper()
	if r.exitCode != 1 {
		t.Errorf("exit code %d, want 1:\n%s", r.exitCode, r)
	}
	position := fmt.Sprintf(`(?m)^error: %s:%d:\d+: cocalc\.run: `, regexp.QuoteMeta(script), lineOf(t, script, "cocalc.run("))
	if !regexp.MustCompile(position).MatchString(r.stderr) {
		t.Errorf("no error line that names cocalc.run at line %d of %s:\n%s", lineOf(t, script, "cocalc.run("), script, r)
	}
	for _, part := range want {
		if !strings.Contains(r.stderr, part) {
			t.Errorf("the error lacks %q:\n%s", part, r)
		}
	}
	for _, step := range r.steps() {
		if strings.HasPrefix(builtinOf(step.Call), "docker.") && step.Status != "unchanged" {
			t.Errorf("a docker step ran before the checks failed: %s %s", step.Status, step.Call)
		}
	}
	if dockerOK("container", "inspect", container) {
		t.Errorf("container %s exists, want none made when the checks fail", container)
	}
}

// lineOf returns the number of the only line of the file path that
// contains text.
func lineOf(t *testing.T, path, text string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, text) {
			if found != 0 {
				t.Fatalf("%s has %q on lines %d and %d, want one", path, text, found, i+1)
			}
			found = i + 1
		}
	}
	if found == 0 {
		t.Fatalf("%s has no line with %q", path, text)
	}
	return found
}

// removeContainers removes every container whose name starts with prefix.
func removeContainers(t *testing.T, prefix string) {
	names := filterPrefix(dockerList(t, "ps", "-a", "--format", "{{.Names}}"), prefix)
	if len(names) > 0 {
		dockerCLIQuiet(t, append([]string{"rm", "-f", "-v"}, names...)...)
	}
}

// reachScript calls cocalc.run against the tutorial's running server with
// admin=postgres.local(...), so the check of pg_hba_file_rules runs, for a
// role or database the tutorial never admitted.
const reachScript = `def main(prefix = "", workdir = "", port = 0, image = "", broken = "none"):
    server = prefix + "postgres"
    pguser = "cocalc"
    database = "cocalc"
    if broken == "role_without_hba_line":
        pguser = "nobody"
    elif broken == "database_without_hba_line":
        database = "elsewhere"
    elif broken == "hba_rejects_role":
        postgres.hba(server, "host", "postgres", "blocked", address = "samenet", method = "reject")
        pguser = "blocked"
    elif broken != "none":
        fail("unknown broken setting " + broken)

    admin = postgres.local(server)
    cocalc.run(
        name = prefix + "cocalc",
        image = image,
        network = prefix + "cocalc-network",
        pghost = "postgres",
        pguser = pguser,
        database = database,
        projects_dir = workdir + "/projects",
        password_file = workdir + "/projects/secrets/postgres",
        auth = "password",
        port = port,
        admin = admin,
    )
`

// TestPreStartChecksOnServer runs the checks that need the tutorial's
// database or its own script. Copies of scripts/tutorial.star are edited to
// give PGHOST an IP address or a port, or to set db_port 5433. A small
// script calls cocalc.run with an admin session for a role or database that
// pg_hba.conf does not admit. The deployment is the nossl tutorial with its
// CoCalc container removed, so every failing run must leave no CoCalc
// container.
func TestPreStartChecksOnServer(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial.star", false, images.Postgres17)
	mustSucceed(t, d.main("--arg", "verify=false"))
	dockerCLI(t, "rm", "--force", d.cocalcContainer())

	source, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "tutorial.star"))
	if err != nil {
		t.Fatal(err)
	}
	for _, edit := range []struct {
		name     string
		old, new string
		want     []string
	}{
		{"pghost_ip", `pghost = "postgres",`, `pghost = "10.1.2.3",`,
			[]string{`pghost "10.1.2.3" is not a DNS name`, `network alias, such as "postgres"`}},
		{"pghost_port", `pghost = "postgres",`, `pghost = "postgres:5433",`,
			[]string{`pghost "postgres:5433" contains a colon`, `give a DNS name`}},
		{"db_port", `pghost = "postgres",`, `pghost = "postgres", db_port = 5433,`,
			[]string{`db_port is 5433`, `serve the database on 5432`}},
	} {
		t.Run("tutorial_"+edit.name, func(t *testing.T) {
			if n := strings.Count(string(source), edit.old); n != 1 {
				t.Fatalf("scripts/tutorial.star has %q %d times, want once to edit it", edit.old, n)
			}
			script := filepath.Join(t.TempDir(), "tutorial.star")
			edited := strings.Replace(string(source), edit.old, edit.new, 1)
			if err := os.WriteFile(script, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"run", "--json", script, "main"}, d.args()...)
			r := runCocalcctl(t, append(args, "--arg", "ssl=false", "--arg", "verify=false")...)
			requireCheckFails(t, r, script, edit.want, d.cocalcContainer())
		})
	}

	script := filepath.Join(t.TempDir(), "reach.star")
	if err := os.WriteFile(script, []byte(reachScript), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, broken string, flags ...string) runResult {
		args := append([]string{"run", "--json", script,
			"--arg", "prefix=" + d.prefix, "--arg", "workdir=" + d.workdir, "--arg", fmt.Sprintf("port=%d", d.port),
			"--arg", "image=" + images.CoCalcStandin, "--arg", "broken=" + broken}, flags...)
		return runCocalcctl(t, args...)
	}
	for _, c := range []checkCase{
		// The first two cases fail while the check counts the `host all all
		// 127.0.0.1/32` and `::1/128` lines at the end of initdb's
		// pg_hba.conf. Those lines do not admit the hub, which connects
		// from the Docker network and not from the server's loopback.
		{"role_without_hba_line", []string{`no rule that admits role "nobody" to database "postgres"`, `add a line such as`}},
		{"database_without_hba_line", []string{`no rule that admits role "cocalc" to database "elsewhere"`, `add a line such as`}},
		{"hba_rejects_role", []string{`rejects role "blocked" on database "postgres"`, `put an accepting line before it`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A check that wrongly passes starts CoCalc; remove it, so the
			// next case finds no container either.
			t.Cleanup(func() { removeContainers(t, d.cocalcContainer()) })
			requireCheckFails(t, run(t, c.name), script, c.want, d.cocalcContainer())
		})
	}

	// The control: the tutorial's own role and database pass the check.
	control := run(t, "none", "--dry-run")
	mustSucceed(t, control)
}
