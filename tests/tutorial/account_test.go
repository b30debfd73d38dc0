package tutorial

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// TestSignupReachesDatabaseSSL sets up the ssl variant from nothing, signs
// up through CoCalc, and finds the account with the tutorial's accounts
// function and with psql logged in by the client certificate.
func TestSignupReachesDatabaseSSL(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial-ssl.star", true, images.Postgres17)
	mustSucceed(t, d.main())

	email := "ada-ssl@example.org"
	id := signup(t, d.port, email)
	requireAccount(t, d, email, id)

	emails := d.psqlWithCertificate("select email_address from accounts")
	if !containsLine(emails, email) {
		t.Errorf("psql with the client certificate lists %q, want %s among them", emails, email)
	}
	conn := d.psqlWithCertificate("select ssl, client_dn from pg_stat_ssl where pid = pg_backend_pid()")
	if conn != "t|/CN=cocalc" {
		t.Errorf("psql's own connection in pg_stat_ssl is %q, want TLS with the client certificate t|/CN=cocalc", conn)
	}
}

// TestSignupReachesDatabaseNoSSL does the same for the nossl variant, with
// psql logged in by the password from WORKDIR/projects/secrets/postgres.
func TestSignupReachesDatabaseNoSSL(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial-nossl.star", false, images.Postgres17)
	mustSucceed(t, d.main())

	email := "ada-nossl@example.org"
	id := signup(t, d.port, email)
	requireAccount(t, d, email, id)

	emails := d.psqlWithPassword("select email_address from accounts")
	if !containsLine(emails, email) {
		t.Errorf("psql with the password lists %q, want %s among them", emails, email)
	}
}

// TestRerunChangesNothing runs main twice: the second run reports only
// unchanged steps and keeps certificates, keys, password, containers and
// rows.
func TestRerunChangesNothing(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial.star", true, images.Postgres17)
	mustSucceed(t, d.main())
	email := "rerun@example.org"
	id := signup(t, d.port, email)
	before := d.snapshot()

	rerun := d.main()
	mustSucceed(t, rerun)
	for _, step := range rerun.steps() {
		if step.Status != "unchanged" {
			t.Errorf("rerun reported %q, want unchanged: %s\n%s", step.Status, step.Call, step.Detail)
		}
	}
	if len(rerun.steps()) == 0 {
		t.Errorf("rerun reported no steps:\n%s", rerun)
	}

	after := d.snapshot()
	for what, value := range before {
		if after[what] != value {
			t.Errorf("%s: %s before the rerun, %s after", what, value, after[what])
		}
	}
	requireAccount(t, d, email, id)
}

// TestStopStartKeepsData stops and starts the set-up: the account is still
// there, and PostgreSQL serves CoCalc again with no manual step.
func TestStopStartKeepsData(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial.star", true, images.Postgres17)
	mustSucceed(t, d.main())
	email := "stop-start@example.org"
	id := signup(t, d.port, email)

	mustSucceed(t, d.tutorial("stop"))
	for _, name := range []string{d.postgresContainer(), d.cocalcContainer()} {
		if state := containerState(t, name); state != "exited" {
			t.Errorf("after stop container %s is %s, want exited", name, state)
		}
	}

	mustSucceed(t, d.tutorial("start"))
	for _, name := range []string{d.postgresContainer(), d.cocalcContainer()} {
		if state := containerState(t, name); state != "running" {
			t.Errorf("after start container %s is %s, want running", name, state)
		}
	}
	verify := d.tutorial("verify")
	if verify.exitCode != 0 {
		t.Errorf("verify after start: want exit code 0:\n%s", verify)
	}
	requireAccount(t, d, email, id)
}

// signup creates an account through the CoCalc stand-in's API and returns
// its ID. It retries while the stand-in returns 503 (schema not ready).
func signup(t *testing.T, port int, email string) string {
	t.Helper()
	client := &http.Client{
		Timeout: 10 * time.Second,
		// The stand-in's certificate is self-signed, as cocalc-docker's is.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	body, err := json.Marshal(map[string]string{"email": email, "first_name": "Ada", "last_name": "Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/api/signup", port)

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		var status int
		var text []byte
		if err == nil {
			status = resp.StatusCode
			text, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil && status == http.StatusOK {
			var answer struct {
				AccountID string `json:"account_id"`
			}
			if err := json.Unmarshal(text, &answer); err != nil || answer.AccountID == "" {
				t.Fatalf("POST %s: 200 with body %q, want {\"account_id\": ...}", url, text)
			}
			return answer.AccountID
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST %s: no account after 60s: last answer %d %q, error %v", url, status, text, err)
		}
		if err == nil && status != http.StatusServiceUnavailable {
			t.Fatalf("POST %s: %d %q, want 200", url, status, text)
		}
		time.Sleep(time.Second)
	}
}

// requireAccount fails the test unless the tutorial's accounts function
// lists email with account ID id.
func requireAccount(t *testing.T, d *deployment, email, id string) {
	t.Helper()
	accounts := d.accounts()
	got, ok := accounts[email]
	switch {
	case !ok:
		t.Errorf("accounts lists %v, want %s among them", accounts, email)
	case got != id:
		t.Errorf("accounts lists %s with ID %s, want the ID %s that signup returned", email, got, id)
	}
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// psqlWithCertificate runs sql with psql in a throwaway container on the
// tutorial's network, as CoCalc's role with the client certificate from
// WORKDIR/ssl and verify-full against the tutorial's CA, and returns the
// unaligned output.
func (d *deployment) psqlWithCertificate(sql string) string {
	d.t.Helper()
	ssl := filepath.Join(d.workdir, "ssl")
	key := filepath.Join(ssl, "client.key")
	info, err := os.Stat(key)
	if err != nil {
		d.t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		d.t.Fatalf("%s has mode %04o, want 0600 (libpq refuses a key that others can read)", key, mode)
	}
	return d.psql(sql,
		[]string{
			ssl + "/ca.crt:/tls/ca.crt:ro",
			ssl + "/client.crt:/tls/client.crt:ro",
			key + ":/tls/client.key:ro",
		},
		[]string{
			"PGSSLMODE=verify-full",
			"PGSSLROOTCERT=/tls/ca.crt",
			"PGSSLCERT=/tls/client.crt",
			"PGSSLKEY=/tls/client.key",
		})
}

// psqlWithPassword runs sql with psql as CoCalc's role, without TLS, with
// the password from WORKDIR/projects/secrets/postgres in a .pgpass file, so
// the password is on no command line.
func (d *deployment) psqlWithPassword(sql string) string {
	d.t.Helper()
	password, err := os.ReadFile(filepath.Join(d.workdir, "projects", "secrets", "postgres"))
	if err != nil {
		d.t.Fatal(err)
	}
	escaped := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(strings.TrimSpace(string(password)))
	pgpass := filepath.Join(d.t.TempDir(), "pgpass")
	if err := os.WriteFile(pgpass, []byte("postgres:5432:cocalc:cocalc:"+escaped+"\n"), 0o600); err != nil {
		d.t.Fatal(err)
	}
	return d.psql(sql,
		[]string{pgpass + ":/tls/pgpass:ro"},
		[]string{"PGPASSFILE=/tls/pgpass", "PGSSLMODE=disable"})
}

// psql runs sql in a throwaway container of the PostgreSQL test image on
// the tutorial's network, connecting to host "postgres" as role cocalc to
// database cocalc, with the given bind mounts and environment.
func (d *deployment) psql(sql string, mounts, env []string) string {
	d.t.Helper()
	args := []string{"run", "--rm", "--name", d.prefix + "psql-" + randomHex(3), "--label", testLabel, "--network", d.network()}
	for _, m := range mounts {
		args = append(args, "--volume", m)
	}
	for _, e := range env {
		args = append(args, "--env", e)
	}
	args = append(args, images.Postgres17,
		"psql", "--host=postgres", "--username=cocalc", "--dbname=cocalc",
		"--no-password", "--no-psqlrc", "--tuples-only", "--no-align", "--set=ON_ERROR_STOP=1", "--command", sql)
	out, err := docker(args...)
	if err != nil {
		d.t.Fatalf("psql %q: %v", sql, err)
	}
	return strings.TrimSpace(out)
}

// snapshot returns what a rerun must keep: the fingerprint of every
// certificate in WORKDIR/ssl, a hash of every key and of the password
// file, and the IDs of the two containers.
func (d *deployment) snapshot() map[string]string {
	d.t.Helper()
	state := map[string]string{}
	certs, _ := filepath.Glob(filepath.Join(d.workdir, "ssl", "*.crt"))
	keys, _ := filepath.Glob(filepath.Join(d.workdir, "ssl", "*.key"))
	if len(certs) != 3 || len(keys) != 3 {
		d.t.Fatalf("WORKDIR/ssl holds certificates %v and keys %v, want ca, server and client of each", certs, keys)
	}
	for _, path := range certs {
		state[path+" fingerprint"] = certFingerprint(d.t, path)
	}
	for _, path := range append(keys, filepath.Join(d.workdir, "projects", "secrets", "postgres")) {
		data, err := os.ReadFile(path)
		if err != nil {
			d.t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		state[path+" sha256"] = hex.EncodeToString(sum[:])
	}
	for _, name := range []string{d.postgresContainer(), d.cocalcContainer()} {
		state["container "+name+" ID"] = strings.TrimSpace(dockerCLI(d.t, "inspect", "--format", "{{.Id}}", name))
	}
	return state
}

// certFingerprint returns the SHA-256 of the DER encoding of the
// certificate in the PEM file path.
func certFingerprint(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sum := sha256.Sum256(block.Bytes)
	return hex.EncodeToString(sum[:])
}

// containerState returns the state of container name, such as "running"
// or "exited".
func containerState(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(dockerCLI(t, "inspect", "--format", "{{.State.Status}}", name))
}
