// Package tutorial holds the end-to-end tests of scripts/tutorial.star and
// its variants. They build the cocalcctl binary once and run it as a user
// would, with standard input from /dev/null, against the real Docker Engine
// and the local test images (PostgreSQL 17 and the CoCalc stand-in). Then
// they check what it left behind: containers, certificates, database rows.
//
// Each test uses its own name prefix, working folder and host port, so the
// tests run in parallel. Everything a test makes is removed in t.Cleanup,
// also when the test fails: first with the script's own down function, then
// directly with the docker command for anything that survived.
package tutorial

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// cocalcctlBinary is the path of the binary that TestMain builds.
var cocalcctlBinary string

// repoRoot is the repository's root folder, where the tests run cocalcctl
// so that shipped scripts are named as users name them
// (scripts/tutorial.star).
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests/tutorial: %v\n", err)
		return 1
	}
	repoRoot = root

	dir, err := os.MkdirTemp("", "cocalcctl-tutorial-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests/tutorial: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	cocalcctlBinary = filepath.Join(dir, "cocalcctl")
	build := exec.Command("go", "build", "-o", cocalcctlBinary, "./cmd/cocalcctl")
	build.Dir = repoRoot
	if output, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "tests/tutorial: go build ./cmd/cocalcctl failed: %v\n%s", err, output)
		return 1
	}
	return m.Run()
}
