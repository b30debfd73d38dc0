// Package runtimetest runs Starlark snippets for the tests of cocalcctl's
// modules: on an in-memory file system, with a fixed clock and captured
// output.
package runtimetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Epoch is the time the fixed clock of a Fixture starts at.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Fixture is one run's environment for a test.
type Fixture struct {
	T        testing.TB
	Env      *runtime.Env
	FS       *runtime.MemFS
	Clock    *runtime.FixedClock
	Stderr   bytes.Buffer
	JSON     bytes.Buffer
	Reporter *runtime.Reporter

	// Predeclared are the names scripts start with.
	Predeclared starlark.StringDict
}

// New returns a Fixture whose scripts see runtime.Core() plus the given
// modules. Durations in the output are replaced by <duration>.
func New(t testing.TB, modules ...runtime.Module) *Fixture {
	f := &Fixture{T: t, Clock: runtime.NewFixedClock(Epoch)}
	f.FS = runtime.NewMemFS(f.Clock)
	f.Reporter = runtime.NewReporter(&f.Stderr, &f.JSON, false)
	f.Reporter.Stable = true
	f.Env = runtime.NewEnv(context.Background(), f.Reporter)
	f.Env.FS = f.FS
	f.Env.Clock = f.Clock
	f.Env.Stderr = &f.Stderr
	f.Env.Root = "/work"
	f.Predeclared = runtime.Core()
	for _, m := range modules {
		f.Predeclared[m.Name] = m.Value()
	}
	if err := f.FS.MkdirAll("/work", 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

// Exec writes src to /work/NAME in the MemFS and runs its top level, then
// calls main() when the script defines it. Scripts are read from the MemFS,
// so a test can write modules for load() first.
func (f *Fixture) Exec(name, src string) (*runtime.Script, error) {
	path := "/work/" + name
	if err := f.FS.WriteFile(path, []byte(src), 0o644); err != nil {
		f.T.Fatal(err)
	}
	script, err := runtime.ExecScript(f.Env, path, f.Predeclared, nil, f.FS.ReadFile)
	if err != nil {
		return nil, err
	}
	if fn, ok := script.Globals["main"].(*starlark.Function); ok {
		_, err = script.Call(fn, nil)
	}
	return script, err
}

// Run is Exec of "test.star".
func (f *Fixture) Run(src string) error {
	_, err := f.Exec("test.star", src)
	return err
}

// MustRun runs src and fails the test with the formatted error when it fails.
func (f *Fixture) MustRun(src string) {
	f.T.Helper()
	if err := f.Run(src); err != nil {
		f.T.Fatalf("script failed:\n%s\nstderr:\n%s", runtime.FormatError(f.Env, err), f.Stderr.String())
	}
}

// ErrorText returns the error as the user sees it, with file:line:col.
func (f *Fixture) ErrorText(err error) string {
	if err == nil {
		return ""
	}
	return runtime.FormatError(f.Env, err)
}

// Statuses returns the status of every step reported so far, in order.
func (f *Fixture) Statuses() []string {
	var out []string
	for _, line := range strings.Split(f.Stderr.String(), "\n") {
		for _, s := range runtime.AllStatuses {
			if strings.HasPrefix(line, string(s)+" ") {
				out = append(out, string(s))
				break
			}
		}
	}
	return out
}

// ResetOutput forgets the output so far, for a second run in the same test.
func (f *Fixture) ResetOutput() {
	f.Stderr.Reset()
	f.JSON.Reset()
}
