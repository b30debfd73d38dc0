// Package managed runs scripts/rds.star and scripts/supabase.star end to end
// against look-alikes of the services: PostgreSQL servers in containers set up
// as Amazon RDS and Supabase present them (lookalike.sh), with the CoCalc
// stand-in as the hub. The tests run the cocalcctl binary as a user would.
//
// Everything a test creates carries a name prefix unique to the test and the
// label cocalcctl.test=1, and is removed when the test ends, also when it
// fails.
package managed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// testLabel marks every container, network and image the tests create.
const testLabel = "cocalcctl.test=1"

var (
	// cocalcctl is the binary that TestMain builds.
	cocalcctl string
	// repoRoot is the repository's top folder.
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..")
	dir, err := os.MkdirTemp("", "cocalcctl-managed-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cocalcctl = filepath.Join(dir, "cocalcctl")
	build := exec.Command("go", "build", "-o", cocalcctl, "./cmd/cocalcctl")
	build.Dir = repoRoot
	if output, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/cocalcctl failed: %v\n%s", err, output)
		return 1
	}
	return m.Run()
}

// ---- docker CLI -----------------------------------------------------------------

func dockerOutput(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	command := exec.CommandContext(ctx, "docker", args...)
	command.Stdout = &stdout
	command.Stderr = &stderr
	if err := command.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func docker(t testing.TB, args ...string) string {
	t.Helper()
	output, err := dockerOutput(args...)
	if err != nil {
		t.Fatal(err)
	}
	return output
}

// ---- one test's names --------------------------------------------------------------

// testEnv is one test's prefix, the Docker network the scripts use (made by
// the test, so the look-alike can join it under its DNS name), a working
// folder, and the cleanup of all of them.
type testEnv struct {
	t       *testing.T
	prefix  string
	network string
	dir     string
	port    int
	// baseImage is the test image under a tag of this test's own, so the
	// PgBouncer image the scripts commit from it is this test's too.
	baseImage string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	images.Require(t, images.Postgres17, images.CoCalcStandin)
	e := &testEnv{t: t, prefix: "cctl-" + randomHex(3) + "-", dir: t.TempDir(), port: freePort(t)}
	e.network = e.prefix + "cocalc-network"
	e.baseImage = e.prefix + "pgbouncer-base:latest"

	// Registered first, so it runs last: whatever the test or the scripts
	// left behind under this prefix.
	t.Cleanup(e.sweep)
	docker(t, "network", "create", "--label", testLabel, e.network)
	docker(t, "tag", images.Postgres17, e.baseImage)
	return e
}

// sweep removes every container, network and image of this test's prefix.
func (e *testEnv) sweep() {
	if e.t.Failed() || testing.Verbose() {
		names, _ := dockerOutput("ps", "-a", "--filter", "name=^"+e.prefix, "--format", "{{.Names}}")
		for _, name := range strings.Fields(names) {
			logs, _ := dockerOutput("logs", "--tail", "60", name)
			e.t.Logf("last log lines of %s:\n%s", name, logs)
		}
	}
	names, _ := dockerOutput("ps", "-a", "--filter", "name=^"+e.prefix, "--format", "{{.Names}}")
	for _, name := range strings.Fields(names) {
		if _, err := dockerOutput("rm", "--force", "--volumes", name); err != nil {
			e.t.Errorf("cleanup: %v", err)
		}
	}
	networks, _ := dockerOutput("network", "ls", "--filter", "name=^"+e.prefix, "--format", "{{.Name}}")
	for _, name := range strings.Fields(networks) {
		if _, err := dockerOutput("network", "rm", name); err != nil {
			e.t.Errorf("cleanup: %v", err)
		}
	}
	for _, ref := range []string{e.pgbouncerImage(), e.baseImage} {
		if _, err := dockerOutput("image", "inspect", ref); err == nil {
			if _, err := dockerOutput("rmi", ref); err != nil {
				e.t.Errorf("cleanup: %v", err)
			}
		}
	}
}

// pgbouncerImage is the image @stdlib//pgbouncer.star commits from baseImage.
func (e *testEnv) pgbouncerImage() string {
	return "cocalcctl/pgbouncer:" + strings.NewReplacer("/", "-", ":", "-").Replace(e.baseImage)
}

func (e *testEnv) writeFile(name string, content []byte, mode os.FileMode) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, content, mode); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// containerIP returns the address of container on the test's network.
func (e *testEnv) containerIP(container string) string {
	e.t.Helper()
	ip := docker(e.t, "inspect", "--format", fmt.Sprintf(`{{(index .NetworkSettings.Networks %q).IPAddress}}`, e.network), container)
	if ip == "" {
		e.t.Fatalf("container %s has no address on %s", container, e.network)
	}
	return ip
}

// exists reports whether a container or network of that name exists.
func exists(kind, name string) bool {
	_, err := dockerOutput(kind, "inspect", name)
	return err == nil
}

// ---- running scripts ------------------------------------------------------------------

// result is one run of the cocalcctl binary.
type result struct {
	code   int
	stdout string
	stderr string
}

// output returns standard output and standard error, for text that
// print() writes to one or the other.
func (r result) output() string { return r.stdout + r.stderr }

func (r result) String() string {
	return fmt.Sprintf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cocalcctlRun runs `cocalcctl run SCRIPT FUNCTION --arg NAME=VALUE ...`
// with extra flags, without standard input, as CI does.
func cocalcctlRun(t *testing.T, script, function string, args map[string]string, flags ...string) result {
	t.Helper()
	argv := []string{"run", filepath.Join(repoRoot, "scripts", script)}
	if function != "" {
		argv = append(argv, function)
	}
	for name, value := range args {
		argv = append(argv, "--arg", name+"="+value)
	}
	argv = append(argv, flags...)
	return runBinary(t, argv...)
}

func runBinary(t *testing.T, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	command := exec.CommandContext(ctx, cocalcctl, argv...)
	command.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	command.Stdout = &stdout
	command.Stderr = &stderr
	err := command.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("cocalcctl %s: %v", strings.Join(argv, " "), err)
	}
	if testing.Verbose() {
		t.Logf("cocalcctl %s\n%s", strings.Join(argv, " "), r)
	}
	return r
}

// cleanEnv is the test's environment without the libpq variables, which
// postgres.connect would read as defaults, and with NO_COLOR for plain lines.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "NO_COLOR=1")
}

// mustSucceed runs a function of a script and fails the test unless it exits 0.
func mustSucceed(t *testing.T, script, function string, args map[string]string, flags ...string) result {
	t.Helper()
	r := cocalcctlRun(t, script, function, args, flags...)
	if r.code != 0 {
		t.Fatalf("%s %s failed:\n%s", script, function, r)
	}
	return r
}

// summary returns the final line of a run, such as
// "done: 25 unchanged in 546ms".
func summary(r result) string {
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	return lines[len(lines)-1]
}

// assertConverged fails when a run created, changed or ran anything.
func assertConverged(t *testing.T, r result, what string) {
	t.Helper()
	for _, status := range []string{"created", "changed", "ran", "removed", "would create", "would change", "would run", "would remove"} {
		for _, line := range strings.Split(r.stderr, "\n") {
			if strings.HasPrefix(line, status+" ") {
				t.Errorf("%s: a step reported %q, want only unchanged steps: %s", what, status, line)
			}
		}
	}
	if !strings.Contains(summary(r), "unchanged") {
		t.Errorf("%s: summary %q counts no unchanged steps", what, summary(r))
	}
}

func copyMap(m map[string]string, extra ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		out[extra[i]] = extra[i+1]
	}
	return out
}
