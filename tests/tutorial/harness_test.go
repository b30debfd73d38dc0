package tutorial

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// testLabel goes on every container the tests start themselves. The
// tutorial's own containers get it from the test images.
const testLabel = "cocalcctl.test=1"

// runTimeout bounds one cocalcctl invocation. The slowest one, which
// installs PostgreSQL from the Debian mirror, takes about a minute.
const runTimeout = 5 * time.Minute

// deploySlots caps how many tests run a tutorial at once, regardless of
// -parallel. Each one runs two containers and commits an image, and more
// than two at a time only slow each other down on a 2-core machine.
var deploySlots = make(chan struct{}, 2)

// event is one JSON line of `cocalcctl run --json` (schema in docs/output.md).
type event struct {
	Type       string         `json:"type"`
	Call       string         `json:"call"`
	Status     string         `json:"status"`
	Position   string         `json:"position"`
	DurationMS int64          `json:"duration_ms"`
	Detail     string         `json:"detail"`
	Counts     map[string]int `json:"counts"`
	OK         *bool          `json:"ok"`
}

// runResult is what one cocalcctl invocation returned.
type runResult struct {
	command  string
	exitCode int
	stdout   string
	stderr   string
	events   []event
}

// steps returns the step events, in order.
func (r runResult) steps() []event {
	var steps []event
	for _, e := range r.events {
		if e.Type == "step" {
			steps = append(steps, e)
		}
	}
	return steps
}

// String returns the command and its output, for failure messages.
func (r runResult) String() string {
	return fmt.Sprintf("$ %s\nexit code %d\n--- stderr:\n%s", r.command, r.exitCode, r.stderr)
}

// runCocalcctl runs the binary in the repository root with args and stdin
// from /dev/null, as CI runs it, with --json so that steps can be parsed.
func runCocalcctl(t *testing.T, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, cocalcctlBinary, args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	err := cmd.Run()
	result := runResult{
		command: "cocalcctl " + strings.Join(args, " "),
		stdout:  stdout.String(),
		stderr:  stderr.String(),
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		result.exitCode = exitErr.ExitCode()
	default:
		t.Fatalf("%s: %v\n%s", result.command, err, result.stderr)
	}

	for _, line := range strings.Split(result.stdout, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: stdout line is not a JSON event: %v\n%s", result.command, err, line)
		}
		result.events = append(result.events, e)
	}
	return result
}

// mustSucceed fails the test unless r exited with 0.
func mustSucceed(t *testing.T, r runResult) {
	t.Helper()
	if r.exitCode != 0 {
		t.Fatalf("want exit code 0:\n%s", r)
	}
}

// newPrefix returns a name prefix unique to one test, such as "tt-a1b2c3-".
func newPrefix() string {
	return "tt-" + randomHex(3) + "-"
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// freePort returns a port of 127.0.0.1 that was free a moment ago and that
// no other test of this process got.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("no free port found in 20 tries")
	return 0
}

// deployment is one copy of the tutorial with its own names: everything it
// makes in Docker starts with prefix, its files live in workdir, and CoCalc
// is published on 127.0.0.1:port.
type deployment struct {
	t       *testing.T
	script  string // the script whose main sets it up, relative to the repository root
	ssl     bool   // the ssl argument of scripts/tutorial.star for this set-up
	prefix  string
	workdir string
	port    int
	// baseImage is a tag of a test image made for this deployment alone,
	// so the image that prepared_image saves from it is this deployment's
	// too and can be removed without touching other tests.
	baseImage string
}

// newDeployment requires the engine and the images, takes a deploy slot,
// tags sourceImage as this deployment's base image, and registers the
// cleanup. script is the tutorial script whose main the test runs, and ssl
// is the mode that script sets up.
func newDeployment(t *testing.T, script string, ssl bool, sourceImage string) *deployment {
	t.Helper()
	images.Require(t, sourceImage, images.Postgres17, images.CoCalcStandin)

	deploySlots <- struct{}{}
	t.Cleanup(func() { <-deploySlots })

	prefix := newPrefix()
	d := &deployment{
		t:         t,
		script:    script,
		ssl:       ssl,
		prefix:    prefix,
		workdir:   filepath.Join(t.TempDir(), "work"),
		port:      freePort(t),
		baseImage: sourceImage + "-" + strings.TrimSuffix(prefix, "-"),
	}
	t.Cleanup(d.cleanup)
	dockerCLI(t, "tag", sourceImage, d.baseImage)
	t.Logf("deployment %s: workdir %s, port %d, base image %s", prefix, d.workdir, d.port, d.baseImage)
	return d
}

// Names of what the tutorial makes, as scripts/tutorial.star spells them.
func (d *deployment) postgresContainer() string { return d.prefix + "postgres" }
func (d *deployment) cocalcContainer() string   { return d.prefix + "cocalc" }
func (d *deployment) network() string           { return d.prefix + "cocalc-network" }
func (d *deployment) volume() string            { return d.prefix + "cocalc-postgres-data" }

// installContainer is the temporary container of prepared_image.
func (d *deployment) installContainer() string { return d.prefix + "cocalcctl-install-postgres" }

// preparedImage is the image that stdlib's prepared_image saves from
// baseImage for PostgreSQL 17. The naming rule is copied from
// stdlib/postgres_server.star.
func (d *deployment) preparedImage() string {
	return "cocalcctl/postgres:17-" + strings.NewReplacer("/", "-", ":", "-").Replace(d.baseImage)
}

// args returns the --arg flags that every function of the tutorial takes.
func (d *deployment) args() []string {
	return []string{
		"--arg", "prefix=" + d.prefix,
		"--arg", "workdir=" + d.workdir,
		"--arg", fmt.Sprintf("port=%d", d.port),
		"--arg", "postgres_image=" + d.baseImage,
		"--arg", "cocalc_image=" + images.CoCalcStandin,
		"--arg", "verify_timeout=90",
	}
}

// main runs the main function of d.script with flags (such as --dry-run or
// --arg verify=false) after the deployment's arguments. The variants fix
// ssl themselves and take no ssl argument.
func (d *deployment) main(flags ...string) runResult {
	d.t.Helper()
	args := append([]string{"run", "--json", d.script, "main"}, d.args()...)
	if d.script == "scripts/tutorial.star" {
		args = append(args, "--arg", fmt.Sprintf("ssl=%t", d.ssl))
	}
	return runCocalcctl(d.t, append(args, flags...)...)
}

// tutorial runs function of scripts/tutorial.star with the deployment's
// arguments and its ssl mode. The variants tutorial-ssl.star and
// tutorial-nossl.star take the same arguments, but see
// TestVariantsHaveTutorialFunctions for why the tests call tutorial.star.
func (d *deployment) tutorial(function string, flags ...string) runResult {
	d.t.Helper()
	args := append([]string{"run", "--json", "scripts/tutorial.star", function}, d.args()...)
	args = append(args, "--arg", fmt.Sprintf("ssl=%t", d.ssl))
	return runCocalcctl(d.t, append(args, flags...)...)
}

// accounts returns the email addresses that `tutorial.star accounts`
// prints, with their account IDs.
func (d *deployment) accounts() map[string]string {
	d.t.Helper()
	r := d.tutorial("accounts")
	mustSucceed(d.t, r)
	found := map[string]string{}
	for _, line := range strings.Split(r.stderr, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 2 && len(fields[0]) == 36 && strings.Count(fields[0], "-") == 4 {
			found[fields[1]] = fields[0]
		}
	}
	return found
}

// cleanup removes what the deployment made: first with the tutorial's own
// down function, then directly whatever survived, and last the images.
func (d *deployment) cleanup() {
	t := d.t
	down := d.tutorial("down", "--yes")
	if down.exitCode != 0 {
		t.Errorf("cleanup: down --yes failed:\n%s", down)
	}

	if names := d.leftovers("container"); len(names) > 0 {
		t.Logf("cleanup: removing containers that survived down: %v", names)
		dockerCLIQuiet(t, append([]string{"rm", "-f", "-v"}, names...)...)
	}
	if names := d.leftovers("volume"); len(names) > 0 {
		t.Logf("cleanup: removing volumes that survived down: %v", names)
		dockerCLIQuiet(t, append([]string{"volume", "rm", "-f"}, names...)...)
	}
	if names := d.leftovers("network"); len(names) > 0 {
		t.Logf("cleanup: removing networks that survived down: %v", names)
		dockerCLIQuiet(t, append([]string{"network", "rm"}, names...)...)
	}
	for _, ref := range []string{d.preparedImage(), d.baseImage} {
		if dockerOK("image", "inspect", ref) {
			dockerCLIQuiet(t, "rmi", ref)
		}
	}
	os.RemoveAll(d.workdir)
}

// leftovers lists the containers ("container"), volumes ("volume") or
// networks ("network") whose name starts with the deployment's prefix.
func (d *deployment) leftovers(kind string) []string {
	switch kind {
	case "container":
		return filterPrefix(dockerList(d.t, "ps", "-a", "--format", "{{.Names}}"), d.prefix)
	case "volume":
		return filterPrefix(dockerList(d.t, "volume", "ls", "--format", "{{.Name}}"), d.prefix)
	case "network":
		return filterPrefix(dockerList(d.t, "network", "ls", "--format", "{{.Name}}"), d.prefix)
	}
	panic("unknown kind " + kind)
}

func filterPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// dockerList runs a docker listing command and returns its non-empty
// output lines.
func dockerList(t *testing.T, args ...string) []string {
	t.Helper()
	out := dockerCLI(t, args...)
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// dockerCLI runs the docker command and fails the test when it fails.
func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dockerCLIQuiet runs the docker command and reports a failure without
// stopping, for cleanups.
func dockerCLIQuiet(t *testing.T, args ...string) {
	t.Helper()
	if _, err := docker(args...); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// dockerOK reports whether the docker command succeeds.
func dockerOK(args ...string) bool {
	_, err := docker(args...)
	return err == nil
}

func docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
