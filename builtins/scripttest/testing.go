package scripttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/cocalcctl/cocalcctl/builtins/assert"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Inspector is implemented by fake backends that a test can look into with
// testing.fake(name).
type Inspector interface {
	Inspect(thread *starlark.Thread) (starlark.Value, error)
}

// Modules returns the modules that only test files see: assert and testing.
func Modules(o Options) []runtime.Module {
	return []runtime.Module{assert.Module, TestingModule(o)}
}

// TestingModule declares the testing module; o supplies the predeclared
// names and stdlib of the scripts that testing.run runs.
func TestingModule(o Options) runtime.Module {
	t := &testingModule{opts: o}
	return runtime.Module{
		Name: "testing",
		Doc: "Helpers for script tests run by `cocalcctl test`: run a script's function against the fakes, " +
			"look into the fakes and the in-memory file system, and compare a run's steps with a golden file.",
		Builtins: []runtime.Builtin{
			{Name: "testing.run", Fn: t.run, Doc: `testing.run(script, function="main", args={}, dry_run=False, yes=False, check=True)

Runs function of script (a path relative to the test file) with the keyword arguments in args,
against this test's fakes. Returns a struct with ok (bool), error (the error text as the user
would see it, or None), steps (a list of structs with status, call and position), lines (the
step lines as printed, durations redacted) and output (everything printed). With check=True a
failing run fails the test with the script's error; with check=False the failure is returned.`},
			{Name: "testing.fake", Fn: t.fake, Doc: `testing.fake(name)

Returns the fake backend name ("docker" or "postgres"). Its attributes are the fake's state, read
when accessed: networks, volumes, images, containers with their env, mounts and ports, files in
containers with owner and mode (file(container, path)), executed commands; the servers with their
roles, databases, grants, settings, pg_hba rules and executed SQL. Its methods set the fake up:
add_image and on_exec for docker, register for SQL the postgres fake does not model. See
docs/testing.md for every field.`},
			{Name: "testing.file", Fn: t.file, Doc: `testing.file(path)

Returns a struct with content and mode of a file in the test's in-memory file system, or None
when it does not exist. Relative paths are relative to the test file's folder.`},
			{Name: "testing.snapshot", Fn: t.snapshot, Doc: `testing.snapshot(result, golden)

Compares the step lines of result (from testing.run) with the golden file golden (relative to
the test file) and fails with a line diff when they differ. Durations, fingerprints, long hex
identifiers and secrets are redacted; give the script absolute paths (not ~/) so the file is the
same on every machine. ` + "`cocalcctl test --update`" + ` rewrites the golden file instead.`},
		},
	}
}

type testingModule struct{ opts Options }

func (t *testingModule) run(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		script   string
		function = "main"
		fnArgs   *starlark.Dict
		dryRun   bool
		yes      bool
		check    = true
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "script", &script, "function?", &function,
		"args?", &fnArgs, "dry_run?", &dryRun, "yes?", &yes, "check?", &check); err != nil {
		return nil, err
	}

	env := runtime.EnvOf(thread)
	path := filepath.Join(env.Root, script)
	var kw []starlark.Tuple
	if fnArgs != nil {
		for _, item := range fnArgs.Items() {
			if _, ok := item[0].(starlark.String); !ok {
				return nil, fmt.Errorf("%s: args keys must be parameter names, got %s", b.Name(), item[0].String())
			}
			kw = append(kw, starlark.Tuple{item[0], item[1]})
		}
	}

	// The script reports into its own buffers, under its own flags.
	var text, events bytes.Buffer
	rep := runtime.NewReporter(&text, &events, false)
	rep.Stable = true
	restore := env.Swap(rep, dryRun, yes, &text)
	defer restore()

	var err error
	s, err := runtime.ExecScript(env, path, t.opts.testPredeclared(path), t.opts.Stdlib, nil)
	if err == nil {
		var fn *starlark.Function
		if fn, err = s.Function(function); err == nil {
			_, err = s.Call(fn, kw)
		}
	}

	var steps []starlark.Value
	for _, line := range strings.Split(events.String(), "\n") {
		var ev runtime.Event
		if line == "" || json.Unmarshal([]byte(line), &ev) != nil || ev.Type != "step" {
			continue
		}
		steps = append(steps, starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"status": starlark.String(ev.Status), "call": starlark.String(ev.Call), "position": starlark.String(ev.Position),
		}))
	}
	var errValue starlark.Value = starlark.None
	if err != nil {
		msg := runtime.FormatError(env, err)
		if check {
			return nil, fmt.Errorf("%s: %s %s failed:\n%s", b.Name(), script, function, msg)
		}
		errValue = starlark.String(msg)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"ok":     starlark.Bool(err == nil),
		"error":  errValue,
		"steps":  starlark.NewList(steps),
		"lines":  starlark.String(stepLines(text.String())),
		"output": starlark.String(text.String()),
	}), nil
}

// stepLines keeps the step and detail lines of a run's text output, without
// print() output and the summary.
func stepLines(text string) string {
	var keep []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "              ") {
			keep = append(keep, line)
			continue
		}
		for _, s := range runtime.AllStatuses {
			if strings.HasPrefix(line, string(s)+" ") {
				keep = append(keep, line)
				break
			}
		}
	}
	return strings.Join(keep, "\n") + "\n"
}

func (t *testingModule) fake(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
		return nil, err
	}
	backend, err := runtime.EnvOf(thread).Backend(name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: no fake %q in this test; the fakes are docker and postgres", b.Name(), name)
	}
	in, ok := backend.(Inspector)
	if !ok {
		return nil, fmt.Errorf("%s: the %q backend of this test cannot be inspected", b.Name(), name)
	}
	return in.Inspect(thread)
}

func (t *testingModule) file(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}
	env := runtime.EnvOf(thread)
	abs := runtime.ResolvePath(env, path)
	info, err := env.FS.Stat(abs)
	if err != nil {
		return starlark.None, nil
	}
	content := ""
	if !info.IsDir() {
		data, err := env.FS.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		content = string(data)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"content": starlark.String(content),
		"mode":    starlark.MakeInt(int(info.Mode().Perm())),
		"is_dir":  starlark.Bool(info.IsDir()),
	}), nil
}

var (
	fingerprintRE = regexp.MustCompile(`sha256:[0-9a-fA-F:]{16,}`)
	hexRE         = regexp.MustCompile(`\b[0-9a-f]{32,}\b`)
)

// Redact removes what differs from run to run: fingerprints and long hex
// ids. The home folder is left as it is: replacing it would also rewrite
// paths inside containers when the tests run as root (home /root), so tests
// whose plans must match on every machine give absolute paths.
func Redact(s string) string {
	s = fingerprintRE.ReplaceAllString(s, "sha256:<fingerprint>")
	return hexRE.ReplaceAllString(s, "<id>")
}

func (t *testingModule) snapshot(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		result starlark.HasAttrs
		golden string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "result", &result, "golden", &golden); err != nil {
		return nil, err
	}
	v, err := result.Attr("lines")
	lines, ok := v.(starlark.String)
	if err != nil || !ok {
		return nil, fmt.Errorf("%s: result must come from testing.run", b.Name())
	}

	got := Redact(string(lines))
	path := filepath.Join(runtime.EnvOf(thread).Root, golden)
	if t.opts.Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return starlark.None, nil
	}
	want, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the golden file %s: %v; run `cocalcctl test --update` to write it", b.Name(), golden, err)
	}
	if got != string(want) {
		return nil, fmt.Errorf("%s: the steps differ from %s (- want, + got); run `cocalcctl test --update` if the change is intended:\n%s",
			b.Name(), golden, Diff(string(want), got))
	}
	return starlark.None, nil
}

// Diff returns a line diff of want and got: lines only in want start with
// "- ", lines only in got with "+ ", and common lines with "  ".
func Diff(want, got string) string {
	a := strings.Split(strings.TrimRight(want, "\n"), "\n")
	bl := strings.Split(strings.TrimRight(got, "\n"), "\n")

	// Longest common subsequence table; golden files are small.
	n, m := len(a), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}

	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == bl[j]:
			out = append(out, "  "+a[i])
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, "+ "+bl[j])
			j++
		default:
			out = append(out, "- "+a[i])
			i++
		}
	}
	return strings.Join(out, "\n")
}
