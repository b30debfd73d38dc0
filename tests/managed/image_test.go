package managed

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/tests/images"
)

// TestPgBouncerImageFromDebian installs PgBouncer into plain Debian with
// pgbouncer_image, as a first run on a user's machine does, and checks that
// a second run reuses the image. It needs a Debian mirror reachable from
// containers and takes about a minute.
func TestPgBouncerImageFromDebian(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: installs a package from the Debian mirror")
	}
	t.Parallel()
	images.Require(t, images.DebianTrixie)
	e := &testEnv{t: t, dir: t.TempDir(), prefix: "cctl-" + randomHex(3) + "-"}
	e.baseImage = e.prefix + "debian:trixie"
	t.Cleanup(e.sweep)
	docker(t, "tag", images.DebianTrixie, e.baseImage)

	script := e.writeFile("image.star", []byte(fmt.Sprintf(`
load("@stdlib//pgbouncer.star", "pgbouncer_image")

def main():
    print("image:", pgbouncer_image(%q, prefix = %q))
`, e.baseImage, e.prefix)), 0o644)
	r := runBinary(t, "run", script)
	if r.code != 0 {
		t.Fatalf("pgbouncer_image failed:\n%s", r)
	}
	if !strings.Contains(r.output(), "image: "+e.pgbouncerImage()) {
		t.Errorf("pgbouncer_image did not return %s:\n%s", e.pgbouncerImage(), r)
	}
	check := docker(t, "run", "--rm", "--label", testLabel, "--user", "postgres", e.pgbouncerImage(), "/usr/sbin/pgbouncer", "--version")
	if !strings.HasPrefix(check, "PgBouncer ") {
		t.Errorf("pgbouncer --version as user postgres printed %q", check)
	}
	if exists("container", e.prefix+"cocalcctl-install-pgbouncer") {
		t.Errorf("the temporary container is left behind")
	}

	r = runBinary(t, "run", script)
	if r.code != 0 {
		t.Fatalf("the second run failed:\n%s", r)
	}
	assertConverged(t, r, "the second run")
}
