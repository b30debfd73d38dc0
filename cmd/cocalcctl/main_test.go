package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const example = "../../docs/examples/hello/hello.star"

// run calls Main with args and no standard input, and returns the exit code
// with both outputs.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

var durations = regexp.MustCompile(`\[(\d+ms|\d+\.\d+s)\]|in (\d+ms|\d+\.\d+s)$|"duration_ms":\d+`)

// stable replaces durations and the temporary folder so output can be
// compared with a golden file.
func stable(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "$WORKDIR")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = durations.ReplaceAllStringFunc(l, func(m string) string {
			switch {
			case strings.HasPrefix(m, "["):
				return "[<duration>]"
			case strings.HasPrefix(m, "in "):
				return "in <duration>"
			}
			return `"duration_ms":0`
		})
	}
	return strings.Join(lines, "\n")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/cocalcctl -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cmd/cocalcctl -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRunExampleDryRunThenRealThenRerun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	arg := "--arg=workdir=" + dir

	code, _, stderr := run(t, "run", example, arg, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run exited %d:\n%s", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", dir)
	}
	golden(t, "hello-dry-run.txt", stable(stderr, dir))

	code, _, stderr = run(t, "run", example, arg)
	if code != 0 {
		t.Fatalf("first run exited %d:\n%s", code, stderr)
	}
	golden(t, "hello-first-run.txt", stable(stderr, dir))

	info, err := os.Stat(filepath.Join(dir, "secrets", "db-password"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %04o, want 0600", info.Mode().Perm())
	}
	info, err = os.Stat(filepath.Join(dir, "secrets"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("secret folder mode %04o, want 0700", info.Mode().Perm())
	}

	code, stdout, stderr := run(t, "run", example, arg, "--json")
	if code != 0 {
		t.Fatalf("rerun exited %d:\n%s", code, stderr)
	}
	golden(t, "hello-rerun.txt", stable(stderr, dir))
	golden(t, "hello-rerun.jsonl", stable(stdout, dir))
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("--json line %q is not JSON: %v", line, err)
		}
		if ev["type"] == "step" && ev["status"] != "unchanged" {
			t.Errorf("rerun step %v is %v, want unchanged", ev["call"], ev["status"])
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.star")
	if err := os.WriteFile(bad, []byte("def main(n = 1):\n    secret.random(length = n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	required := filepath.Join(dir, "required.star")
	if err := os.WriteFile(required, []byte("def main(name):\n    pass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	syntaxErr := filepath.Join(dir, "syntax.star")
	if err := os.WriteFile(syntaxErr, []byte("def main(:\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"bad builtin argument", []string{"run", bad}, 1, bad + ":2:18: secret.random: length must be between 12 and 1024, got 1"},
		{"unknown --arg", []string{"run", bad, "--arg", "count=3"}, 2, `main takes no parameter "count"; its parameters are: n`},
		{"wrong type --arg", []string{"run", bad, "--arg", "n=many"}, 2, `n takes an integer, got "many"`},
		{"missing required", []string{"run", required}, 2, "main needs --arg name=VALUE"},
		{"unknown flag", []string{"run", bad, "--frobnicate"}, 2, "unknown flag: --frobnicate"},
		{"unknown function", []string{"run", bad, "nope"}, 2, `has no function "nope"; it defines: main`},
		{"missing script", []string{"run", filepath.Join(dir, "none.star")}, 2, "no such file"},
		{"syntax error", []string{"run", syntaxErr}, 1, syntaxErr + ":1:11: got ':', want ')'"},
		{"unknown command", []string{"frob"}, 2, `unknown command "frob"`},
		{"no command", nil, 2, "Usage:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := run(t, c.args...)
			if code != c.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.contains) {
				t.Errorf("stderr does not contain %q:\n%s", c.contains, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
				t.Errorf("stderr shows a Go panic:\n%s", stderr)
			}
		})
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, cmd := range []string{"run", "doc", "version", "test"} {
		code, stdout, stderr := run(t, cmd, "--help")
		if code != 0 {
			t.Errorf("%s --help exited %d: %s", cmd, code, stderr)
		}
		if !strings.Contains(stdout, "Usage: cocalcctl "+cmd) {
			t.Errorf("%s --help does not start with its usage:\n%s", cmd, stdout)
		}
	}
}

func TestDestructiveStepRefusedWithoutStdin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	if code, _, stderr := run(t, "run", example, "--arg=workdir="+dir); code != 0 {
		t.Fatalf("set-up run exited %d:\n%s", code, stderr)
	}

	code, _, stderr := run(t, "run", example, "clean", "--arg=workdir="+dir)
	if code != 1 {
		t.Errorf("clean without --yes exited %d, want 1", code)
	}
	if !strings.Contains(stderr, "refused ") || !strings.Contains(stderr, "run again with --yes") {
		t.Errorf("stderr does not report the refusal and the fix:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.txt")); err != nil {
		t.Errorf("refused clean still deleted data: %v", err)
	}

	code, _, stderr = run(t, "run", example, "clean", "--arg=workdir="+dir, "--yes")
	if code != 0 {
		t.Fatalf("clean --yes exited %d:\n%s", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("clean --yes left %s", dir)
	}
}

func TestDocCommand(t *testing.T) {
	code, stdout, _ := run(t, "doc", "secret.file")
	if code != 0 || !strings.Contains(stdout, "secret.file(path, create=True, length=32)") {
		t.Errorf("doc secret.file exited %d:\n%s", code, stdout)
	}
	code, _, stderr := run(t, "doc", "nope")
	if code != 2 || !strings.Contains(stderr, `no module or builtin "nope"`) {
		t.Errorf("doc nope exited %d:\n%s", code, stderr)
	}
}

func TestVersionCommand(t *testing.T) {
	code, stdout, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "cocalcctl ") {
		t.Errorf("version exited %d: %q", code, stdout)
	}
}
