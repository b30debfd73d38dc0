// Package images names the local Docker images that tests/images/build makes
// and lets integration tests require them.
//
// The tags come from tags.env in this folder, which the build script reads
// too, so the two cannot disagree.
package images

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

//go:embed tags.env
var tagsEnv string

var tags = mustParseTags(tagsEnv)

var (
	// DebianTrixie is plain Debian trixie without PostgreSQL, with working
	// apt sources, for the path that installs the server in a container.
	DebianTrixie = tags["DEBIAN_TRIXIE"]
	// Postgres17 is Debian trixie with the PostgreSQL 17 server and client,
	// openssl, ca-certificates and PgBouncer, and no database cluster.
	Postgres17 = tags["POSTGRES_17"]
	// Postgres15 is Debian bookworm with the PostgreSQL 15 server and client,
	// openssl, ca-certificates and PgBouncer, and no database cluster.
	Postgres15 = tags["POSTGRES_15"]
	// CoCalcStandin is the test fixture that behaves like the cocalc-docker
	// hub towards its database (source in tests/standin).
	CoCalcStandin = tags["COCALC_STANDIN"]
)

// All lists every tag that tests/images/build makes.
func All() []string {
	return []string{DebianTrixie, Postgres17, Postgres15, CoCalcStandin}
}

// BuildCommand is the command, run as root from the repository root, that
// builds or refreshes the images.
const BuildCommand = "tests/images/build"

// parseTags reads NAME=TAG lines, skipping blank lines and # comments.
func parseTags(text string) (map[string]string, error) {
	result := map[string]string{}
	scanner := bufio.NewScanner(strings.NewReader(text))
	for lineNumber := 1; scanner.Scan(); lineNumber++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, tag, ok := strings.Cut(line, "=")
		if !ok || name == "" || tag == "" {
			return nil, fmt.Errorf("tags.env line %d: expected NAME=TAG, got %q", lineNumber, line)
		}
		result[name] = tag
	}
	return result, scanner.Err()
}

func mustParseTags(text string) map[string]string {
	parsed, err := parseTags(text)
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"DEBIAN_TRIXIE", "POSTGRES_17", "POSTGRES_15", "COCALC_STANDIN"} {
		if parsed[name] == "" {
			panic(fmt.Sprintf("tags.env: missing %s", name))
		}
	}
	return parsed
}

// InCI reports whether the tests run in CI, where CI=true is set and a
// missing engine or image is a failure rather than a reason to skip.
func InCI() bool {
	return os.Getenv("CI") == "true"
}

// RequireEngine skips the test when the Docker Engine cannot be reached, or
// fails it when InCI is true.
func RequireEngine(t testing.TB) {
	t.Helper()
	if err := docker("version", "--format", "{{.Server.Version}}"); err != nil {
		unavailable(t, fmt.Sprintf("the Docker Engine cannot be reached (%v): start it or check DOCKER_HOST", err))
	}
}

// Require skips the test when the Docker Engine or one of the given images
// (every image of All when none are given) is missing, or fails it when InCI
// is true. The message names the command that builds the images.
func Require(t testing.TB, imageTags ...string) {
	t.Helper()
	RequireEngine(t)
	if len(imageTags) == 0 {
		imageTags = All()
	}
	var missing []string
	for _, tag := range imageTags {
		if err := docker("image", "inspect", "--format", "{{.Id}}", tag); err != nil {
			missing = append(missing, tag)
		}
	}
	if len(missing) > 0 {
		unavailable(t, fmt.Sprintf("missing test images %s: build them with `sudo %s` from the repository root",
			strings.Join(missing, ", "), BuildCommand))
	}
}

func unavailable(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and %s", reason)
	}
	t.Skipf("SKIPPED, NOT PASSED: %s", reason)
}

func docker(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	output, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(output)))
	}
	return nil
}
