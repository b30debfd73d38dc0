// Package scripts_test runs the Starlark tests of the shipped scripts
// (`cocalcctl test scripts/`) inside go test, one subtest per test function,
// and checks that forks which break a rule of the tutorial fail them.
package scripts_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/all"
	"github.com/cocalcctl/cocalcctl/builtins/scripttest"
	"github.com/cocalcctl/cocalcctl/stdlib"
)

func options() scripttest.Options {
	return scripttest.Options{Predeclared: all.Predeclared, Stdlib: stdlib.FS, Fakes: all.Fakes}
}

// runAll runs every *_test.star file under dir and returns the results by
// "FILE::TEST", with FILE relative to dir.
func runAll(t *testing.T, dir string) map[string]scripttest.Result {
	t.Helper()
	files, err := scripttest.Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *_test.star files under %s", dir)
	}
	out := map[string]scripttest.Result{}
	for _, file := range files {
		results, err := scripttest.RunFile(file, options())
		rel, _ := filepath.Rel(dir, file)
		if err != nil {
			t.Errorf("%s cannot be loaded:\n%v", rel, err)
			continue
		}
		for _, r := range results {
			out[rel+"::"+r.Name] = r
		}
	}
	return out
}

// TestScripts runs the script tests, as `cocalcctl test scripts/` does.
func TestScripts(t *testing.T) {
	files, err := scripttest.Discover([]string{"."})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		results, err := scripttest.RunFile(file, options())
		if err != nil {
			t.Errorf("%s cannot be loaded:\n%v", file, err)
			continue
		}
		for _, r := range results {
			t.Run(file+"::"+r.Name, func(t *testing.T) {
				if !r.Passed {
					t.Errorf("%s\noutput of the test:\n%s", r.Error, r.Output)
				}
			})
		}
	}
}

// forkCases are broken copies of tutorial.star under testdata/forks. Each
// must fail the listed tests with an error that names the cause and the
// line of the fork that made the mistake: the first line that contains
// marker.
var forkCases = []struct {
	fork   string
	marker string
	cause  string
	tests  []string
}{
	{
		fork:   "no-ca-file",
		marker: "    cocalc.run(",
		cause:  `cocalc\.run: the database settings would not work with CoCalc:\n  - client certificate files are set without ca_file`,
		tests: []string{
			"tutorial_test.star::test_ssl_hub_env_and_mounts",
			"tutorial_test.star::test_rerun_changes_nothing",
			"tutorial-ssl_test.star::test_hub_env_and_mounts",
		},
	},
	{
		fork:   "cert-folder",
		marker: "    docker.container(n.cocalc,",
		cause: `the (t1-)?cocalc container \(made by the step at [^)]*tutorial\.star:LINE:\d+\) mounts /srv/cocalc/ssl at /root/pgtls, ` +
			`which holds the private key /srv/cocalc/ssl/ca\.key`,
		tests: []string{
			"tutorial_test.star::test_ssl_hub_env_and_mounts",
			"tutorial-ssl_test.star::test_hub_env_and_mounts",
			"tutorial-ssl_test.star::test_hub_with_prefix_and_role",
		},
	},
}

// TestForksFailTheirTests copies the scripts and their tests to a temporary
// folder, puts a broken fork in place of tutorial.star and runs the tests
// there.
func TestForksFailTheirTests(t *testing.T) {
	for _, c := range forkCases {
		t.Run(c.fork, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, ".", dir)
			fork, err := os.ReadFile(filepath.Join("testdata", "forks", c.fork, "tutorial.star"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "tutorial.star"), fork, 0o644); err != nil {
				t.Fatal(err)
			}
			line := lineOf(t, string(fork), c.marker)

			// The cause, then the fork's line: in the error's first line or
			// in the assertion message.
			cause := strings.ReplaceAll(c.cause, "LINE", line)
			if !strings.Contains(c.cause, "LINE") {
				cause = `tutorial\.star:` + line + `:\d+: ` + c.cause
			}
			want := regexp.MustCompile(cause)

			results := runAll(t, dir)
			for _, name := range c.tests {
				r, ok := results[name]
				switch {
				case !ok:
					t.Errorf("%s did not run; the tests ran: %s", name, strings.Join(sortedKeys(results), ", "))
				case r.Passed:
					t.Errorf("%s passed on the fork %s, which breaks a rule of the tutorial", name, c.fork)
				case !want.MatchString(r.Error):
					t.Errorf("%s failed on the fork %s, but its error does not match %q:\n%s", name, c.fork, want, r.Error)
				}
			}
		})
	}
}

// lineOf returns the number, as text, of the first line of text that
// contains marker.
func lineOf(t *testing.T, text, marker string) string {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, marker) {
			return strconv.Itoa(i + 1)
		}
	}
	t.Fatalf("no line contains %q", marker)
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// copyTree copies every file under src except Go files to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, p)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
