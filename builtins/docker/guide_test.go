package docker_test

import (
	"os"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/docker"
)

// TestGuideExample runs the first example of docs/docker.md on the fake and
// checks the statuses the guide describes for a first and a second run.
func TestGuideExample(t *testing.T) {
	guide, err := os.ReadFile("../../docs/docker.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(guide), "```python\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/docker.md has no python example")
	}

	f, fake := newFixture(t)
	fake.AddImage("cocalcctl-test/postgres:17", docker.Image{Cmd: []string{"bash"}})
	fake.OnExec("", "mkdir", docker.ExecResult{})
	fake.OnExec("", "test -s", docker.ExecResult{})
	f.MustRun(example)
	wantStatuses(t, f, "created", "created", "unchanged", "created", "ran", "created", "unchanged")

	f.ResetOutput()
	f.MustRun(example)
	wantStatuses(t, f, "unchanged", "unchanged", "unchanged", "unchanged", "ran", "unchanged", "unchanged")
}
