package tutorial

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// TestInstallPathRunsOnce starts from plain Debian: the first run installs
// PostgreSQL 17 with apt in a temporary container (from the Debian mirror,
// about 45 s) and saves it as an image, and the second run reuses that
// image without installing again.
func TestInstallPathRunsOnce(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial-nossl.star", false, images.DebianTrixie)

	first := d.main("--arg", "verify=false")
	mustSucceed(t, first)
	install := findStep(t, first, "docker.exec", d.installContainer())
	if install.Status != "changed" {
		t.Errorf("first run: install step %s, want changed (the plain image has no server)", install.Status)
	}
	commit := findStep(t, first, "docker.commit", d.preparedImage())
	if commit.Status != "created" {
		t.Errorf("first run: docker.commit %s, want created", commit.Status)
	}
	if !dockerOK("image", "inspect", d.preparedImage()) {
		t.Errorf("first run: image %s does not exist, want the saved install", d.preparedImage())
	}
	if dockerOK("container", "inspect", d.installContainer()) {
		t.Errorf("first run: temporary container %s still exists, want it removed", d.installContainer())
	}
	requirePostgresUp(t, d)

	second := d.main("--arg", "verify=false")
	mustSucceed(t, second)
	for _, step := range second.steps() {
		if step.Status != "unchanged" {
			t.Errorf("second run reported %q, want unchanged: %s", step.Status, step.Call)
		}
		if strings.Contains(step.Call, d.installContainer()) {
			t.Errorf("second run has a step on the temporary install container, want the saved image reused: %s %s",
				step.Status, step.Call)
		}
	}
	reuse := findStep(t, second, "docker.image", d.preparedImage())
	if !strings.Contains(reuse.Call, `pull="never"`) {
		t.Errorf("second run: %s, want the saved image used with pull=\"never\"", reuse.Call)
	}
	requirePostgresUp(t, d)
}

// findStep returns the first step of r whose builtin is builtin and whose
// call mentions text, or fails the test.
func findStep(t *testing.T, r runResult, builtin, text string) event {
	t.Helper()
	for _, step := range r.steps() {
		if builtinOf(step.Call) == builtin && strings.Contains(step.Call, text) {
			return step
		}
	}
	t.Fatalf("no %s step that mentions %s:\n%s", builtin, text, r)
	return event{}
}

// requirePostgresUp fails the test unless the server in the deployment's
// PostgreSQL container accepts connections and is version 17.
func requirePostgresUp(t *testing.T, d *deployment) {
	t.Helper()
	version, err := docker("exec", "--user", "postgres", d.postgresContainer(),
		"psql", "--no-psqlrc", "--tuples-only", "--no-align", "--command", "show server_version")
	if err != nil {
		t.Fatalf("PostgreSQL in %s does not answer: %v", d.postgresContainer(), err)
	}
	if !strings.HasPrefix(strings.TrimSpace(version), "17.") {
		t.Errorf("server_version is %q, want 17.x", strings.TrimSpace(version))
	}
}

// TestDownNeedsYes checks that down without --yes is refused and removes
// nothing, and that down --yes removes the containers, the network, the
// volume and the workdir.
func TestDownNeedsYes(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "scripts/tutorial.star", false, images.Postgres17)
	mustSucceed(t, d.main("--arg", "verify=false"))

	refused := d.tutorial("down")
	if refused.exitCode != 1 {
		t.Errorf("down without --yes: exit code %d, want 1:\n%s", refused.exitCode, refused)
	}
	steps := refused.steps()
	if len(steps) != 1 || steps[0].Status != "refused" {
		t.Errorf("down without --yes: steps %v, want one refused step", steps)
	}
	if !strings.Contains(refused.stderr, "--yes") {
		t.Errorf("down without --yes: the message does not say to pass --yes:\n%s", refused)
	}
	for kind, want := range map[string][]string{
		"container": {d.cocalcContainer(), d.postgresContainer()},
		"network":   {d.network()},
		"volume":    {d.volume()},
	} {
		have := d.leftovers(kind)
		for _, name := range want {
			if !contains(have, name) {
				t.Errorf("after a refused down the %s %s is gone, want it kept", kind, name)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(d.workdir, "projects", "secrets", "postgres")); err != nil {
		t.Errorf("after a refused down the password file is gone (%v), want the workdir kept", err)
	}

	down := d.tutorial("down", "--yes")
	mustSucceed(t, down)
	for _, step := range down.steps() {
		if step.Status != "removed" {
			t.Errorf("down --yes reported %q, want removed: %s", step.Status, step.Call)
		}
	}
	d.requireNothingExists("after down --yes")
	if _, err := os.Stat(d.workdir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after down --yes the workdir %s exists (stat error %v), want it deleted", d.workdir, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestVariantsHaveTutorialFunctions checks that tutorial-ssl.star and
// tutorial-nossl.star offer every function of tutorial.star, as their
// header comments promise (`cocalcctl run scripts/tutorial-ssl.star down
// --yes`). Each function runs under --dry-run with a fresh prefix, so
// nothing exists and nothing changes. Only a usage error (exit code 2,
// "has no function") fails the test. tutorial.star itself is the control.
func TestVariantsHaveTutorialFunctions(t *testing.T) {
	t.Parallel()
	images.RequireEngine(t)
	prefix := newPrefix()
	workdir := filepath.Join(t.TempDir(), "work")

	for _, script := range []string{"scripts/tutorial.star", "scripts/tutorial-ssl.star", "scripts/tutorial-nossl.star"} {
		for _, function := range []string{"main", "verify", "accounts", "status", "stop", "start", "down"} {
			r := runCocalcctl(t, "run", "--json", "--dry-run", script, function,
				"--arg", "prefix="+prefix, "--arg", "workdir="+workdir, "--arg", "verify_timeout=1",
				"--arg", "postgres_image="+images.Postgres17, "--arg", "cocalc_image="+images.CoCalcStandin)
			if r.exitCode == 2 || strings.Contains(r.stderr, "has no function") {
				t.Errorf("%s has no usable function %s:\n%s", script, function, r)
			}
		}
	}
	if names := filterPrefix(dockerList(t, "ps", "-a", "--format", "{{.Names}}"), prefix); len(names) > 0 {
		t.Errorf("dry runs left containers %v", names)
	}
	if _, err := os.Stat(workdir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dry runs made the workdir %s (stat error %v)", workdir, err)
	}
}
