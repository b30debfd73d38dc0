package managed

import (
	"crypto/tls"
	"encoding/json"
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

// deployment is one script's deployment of CoCalc in a test.
type deployment struct {
	e      *testEnv
	script string
	args   map[string]string
}

// newDeployment returns the arguments every test passes: the look-alike's
// endpoint and CA, the test's names, and the local images.
func (e *testEnv) newDeployment(script string, db *lookalike, more ...string) *deployment {
	args := map[string]string{
		"host":                 db.host,
		"admin_password_file":  db.adminPW,
		"dial_address":         db.ip,
		"prefix":               e.prefix,
		"workdir":              e.workdir(),
		"port":                 fmt.Sprint(e.port),
		"cocalc_image":         images.CoCalcStandin,
		"pgbouncer_base_image": e.baseImage,
		"verify_timeout":       "120",
	}
	if script == "rds.star" {
		args["ca_bundle"] = db.caFile
	} else {
		args["ca_file"] = db.caFile
	}
	d := &deployment{e: e, script: script, args: copyMap(args, more...)}

	// The script's own down, also when the test failed; the sweep of
	// newTestEnv runs after it. The look-alike goes first, because down
	// removes the network it is attached to.
	e.t.Cleanup(func() {
		if exists("container", db.container) {
			if _, err := dockerOutput("rm", "--force", "--volumes", db.container); err != nil {
				e.t.Errorf("cleanup: %v", err)
			}
		}
		if r := cocalcctlRun(e.t, script, "down", d.args, "--yes"); r.code != 0 {
			e.t.Errorf("cleanup: %s down --yes failed:\n%s", script, r)
		}
	})
	return d
}

func (e *testEnv) workdir() string { return filepath.Join(e.dir, "work") }

func (d *deployment) sidecar() string { return d.e.prefix + "cocalc-pgbouncer" }
func (d *deployment) cocalc() string  { return d.e.prefix + "cocalc" }

// run runs function with the deployment's arguments and extra NAME, VALUE pairs.
func (d *deployment) run(t *testing.T, function string, flagsAndArgs ...string) result {
	t.Helper()
	var flags, extra []string
	for _, item := range flagsAndArgs {
		if strings.HasPrefix(item, "--") {
			flags = append(flags, item)
		} else {
			extra = append(extra, item)
		}
	}
	return cocalcctlRun(t, d.script, function, copyMap(d.args, extra...), flags...)
}

func (d *deployment) mustRun(t *testing.T, function string, flagsAndArgs ...string) result {
	t.Helper()
	r := d.run(t, function, flagsAndArgs...)
	if r.code != 0 {
		t.Fatalf("%s %s failed:\n%s", d.script, function, r)
	}
	return r
}

// assertNothingCreated fails when a refused run left a container, the
// workdir or the PgBouncer image behind.
func (d *deployment) assertNothingCreated(t *testing.T) {
	t.Helper()
	for _, name := range []string{d.sidecar(), d.cocalc(), d.e.prefix + "cocalcctl-install-pgbouncer"} {
		if exists("container", name) {
			t.Errorf("container %s exists after a refused run", name)
		}
	}
	if _, err := os.Stat(d.e.workdir()); err == nil {
		t.Errorf("the workdir %s exists after a refused run", d.e.workdir())
	}
	if _, err := dockerOutput("image", "inspect", d.e.pgbouncerImage()); err == nil {
		t.Errorf("image %s exists after a refused run", d.e.pgbouncerImage())
	}
}

// assertRefused fails unless a run failed with exit code 1 and a message
// containing every want.
func assertRefused(t *testing.T, r result, wants ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit code %d, want 1\n%s", r.code, r)
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
}

// assertSecretsHidden fails when CoCalc's database password shows in the
// sidecar's or CoCalc's container configuration (command line, environment).
func (d *deployment) assertSecretsHidden(t *testing.T) {
	t.Helper()
	password, err := os.ReadFile(filepath.Join(d.e.workdir(), "projects", "secrets", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(password))
	for _, name := range []string{d.sidecar(), d.cocalc()} {
		if config := docker(t, "inspect", name); strings.Contains(config, secret) {
			t.Errorf("docker inspect %s shows CoCalc's database password", name)
		}
	}
	mode := docker(t, "exec", d.sidecar(), "stat", "-c", "%a %U", "/etc/pgbouncer/cocalcctl/userlist.txt")
	if mode != "600 postgres" {
		t.Errorf("userlist.txt in the sidecar has mode and owner %q, want \"600 postgres\"", mode)
	}
	if user := docker(t, "exec", d.sidecar(), "stat", "-c", "%U", "/proc/1"); user != "postgres" {
		t.Errorf("the sidecar's main process runs as %q, want postgres", user)
	}
}

// signUpAndFind signs up through the stand-in's API and finds the account
// with the script's accounts function.
func (d *deployment) signUpAndFind(t *testing.T, email string) {
	t.Helper()
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // the stand-in's certificate is self-signed
	}
	body := fmt.Sprintf(`{"email": %q, "first_name": "Ada", "last_name": "Lovelace"}`, email)
	resp, err := client.Post(fmt.Sprintf("https://127.0.0.1:%d/api/signup", d.e.port), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("sign-up through the stand-in: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-up through the stand-in: HTTP %d: %s", resp.StatusCode, answer)
	}
	var created struct {
		AccountID string `json:"account_id"`
	}
	if err := json.Unmarshal(answer, &created); err != nil || created.AccountID == "" {
		t.Fatalf("sign-up answer %q has no account_id: %v", answer, err)
	}

	r := d.mustRun(t, "accounts")
	if !strings.Contains(r.output(), created.AccountID+" "+email) {
		t.Errorf("accounts does not list %s %s:\n%s", created.AccountID, email, r)
	}
}

// assertRemoved fails when down left a container, the network or the workdir.
func (d *deployment) assertRemoved(t *testing.T) {
	t.Helper()
	for _, name := range []string{d.sidecar(), d.cocalc()} {
		if exists("container", name) {
			t.Errorf("container %s exists after down", name)
		}
	}
	if exists("network", d.e.network) {
		t.Errorf("network %s exists after down", d.e.network)
	}
	if _, err := os.Stat(d.e.workdir()); err == nil {
		t.Errorf("the workdir %s exists after down", d.e.workdir())
	}
}
