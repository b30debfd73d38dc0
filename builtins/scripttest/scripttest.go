// Package scripttest runs the Starlark tests of `cocalcctl test`: the test_*
// functions of *_test.star files, each on a fresh thread with fresh fakes of
// the Docker Engine, PostgreSQL, the file system and the clock.
package scripttest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Epoch is the time the fixed clock of every test starts at.
var Epoch = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// TestHome is the home folder ("~") of every script test.
const TestHome = "/home/tester"

// Options configure a test run.
type Options struct {
	// Run selects tests by name (the function name, or FILE::NAME); nil runs all.
	Run *regexp.Regexp

	// Update rewrites the golden files of plan snapshots instead of comparing.
	Update bool

	// Predeclared returns the names a test file and the scripts it runs start
	// with, without the assert and testing modules, which are added here.
	Predeclared func() starlark.StringDict

	// Stdlib holds the @stdlib// modules.
	Stdlib fs.FS

	// Fakes installs fresh fake backends into env before each test.
	Fakes func(env *runtime.Env)
}

// Result is the outcome of one test function.
type Result struct {
	File    string
	Name    string
	Passed  bool
	Error   string
	Output  string
	Elapsed time.Duration
}

// Discover returns the *_test.star files named by paths, searching folders
// recursively, sorted.
func Discover(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", p, err)
		}
		if !info.IsDir() {
			if !strings.HasSuffix(p, "_test.star") {
				return nil, fmt.Errorf("%s is not a test file; test files end in _test.star", p)
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, "_test.star") && !seen[path] {
				seen[path] = true
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// newEnv returns a fresh environment for one test of file.
func (o Options) newEnv(file string, out *bytes.Buffer) *runtime.Env {
	clock := runtime.NewFixedClock(Epoch)
	rep := runtime.NewReporter(out, nil, false)
	rep.Stable = true
	env := runtime.NewEnv(context.Background(), rep)
	env.FS = runtime.NewMemFS(clock)
	env.Clock = clock
	env.Stderr = out
	env.Root = filepath.Dir(file)
	env.Home = TestHome
	if o.Fakes != nil {
		o.Fakes(env)
	}
	return env
}

func (o Options) predeclared() starlark.StringDict {
	if o.Predeclared == nil {
		return starlark.StringDict{}
	}
	return o.Predeclared()
}

// RunFile runs the selected test functions of one file. An error means the
// file itself could not be loaded.
func RunFile(file string, opts Options) ([]Result, error) {
	var discard bytes.Buffer
	env := opts.newEnv(file, &discard)
	script, err := runtime.ExecScript(env, file, opts.testPredeclared(file), opts.Stdlib, nil)
	if err != nil {
		return nil, fmt.Errorf("%s", runtime.FormatError(env, err))
	}

	var names []string
	for name, v := range script.Globals {
		if _, ok := v.(*starlark.Function); ok && strings.HasPrefix(name, "test_") {
			if opts.Run == nil || opts.Run.MatchString(name) || opts.Run.MatchString(file+"::"+name) {
				names = append(names, name)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool {
		return position(script.Globals[names[i]]) < position(script.Globals[names[j]])
	})

	var results []Result
	for _, name := range names {
		results = append(results, opts.runOne(file, name))
	}
	return results, nil
}

func position(v starlark.Value) int {
	if fn, ok := v.(*starlark.Function); ok {
		return int(fn.Position().Line)
	}
	return 0
}

// runOne runs one test function on a fresh environment: the file's top level
// runs again, so no state leaks from one test to the next.
func (o Options) runOne(file, name string) Result {
	start := time.Now()
	var out bytes.Buffer
	env := o.newEnv(file, &out)
	defer env.Close()
	res := Result{File: file, Name: name}

	script, err := runtime.ExecScript(env, file, o.testPredeclared(file), o.Stdlib, nil)
	if err == nil {
		var fn *starlark.Function
		fn, err = script.Function(name)
		if err == nil {
			_, err = script.Call(fn, nil)
		}
	}
	res.Elapsed = time.Since(start)
	res.Output = out.String()
	res.Passed = err == nil
	if err != nil {
		res.Error = runtime.FormatError(env, err)
	}
	return res
}

func (o Options) testPredeclared(file string) starlark.StringDict {
	d := o.predeclared()
	for _, m := range Modules(o) {
		d[m.Name] = m.Value()
	}
	return d
}
