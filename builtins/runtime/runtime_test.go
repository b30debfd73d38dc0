package runtime_test

import (
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/runtime/runtimetest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

func TestLoadRelativeAndStdlibCycle(t *testing.T) {
	f := runtimetest.New(t)
	if err := f.FS.MkdirAll("/work/lib", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.FS.WriteFile("/work/lib/a.star", []byte(`load("b.star", "b")
a = "a" + b
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.FS.WriteFile("/work/lib/b.star", []byte(`b = "b"`), 0o644); err != nil {
		t.Fatal(err)
	}
	f.MustRun(`load("lib/a.star", "a")
def main():
    if a != "ab":
        fail("got %s, want ab" % a)
`)
}

func TestLoadOutsideRootRejected(t *testing.T) {
	f := runtimetest.New(t)
	if err := f.FS.WriteFile("/evil.star", []byte(`x = 1`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.Run(`load("../evil.star", "x")`)
	got := f.ErrorText(err)
	for _, want := range []string{"/work/test.star:1:1", "outside the script's folder", "/evil.star"} {
		if !strings.Contains(got, want) {
			t.Errorf("error %q does not contain %q", got, want)
		}
	}
}

func TestLoadCycleRejected(t *testing.T) {
	f := runtimetest.New(t)
	if err := f.FS.WriteFile("/work/c.star", []byte(`load("test.star", "y")
y = 1`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.Run(`load("c.star", "y")`)
	if err == nil || !strings.Contains(f.ErrorText(err), "load cycle") {
		t.Fatalf("got %v, want a load cycle error", f.ErrorText(err))
	}
}

func TestLoadUnknownStdlib(t *testing.T) {
	f := runtimetest.New(t)
	err := f.Run(`load("@stdlib//nope.star", "x")`)
	if err == nil || !strings.Contains(f.ErrorText(err), "no stdlib is built in") {
		t.Fatalf("got %v", f.ErrorText(err))
	}
	err = f.Run(`load("@other//nope.star", "x")`)
	if err == nil || !strings.Contains(f.ErrorText(err), "the only one is @stdlib") {
		t.Fatalf("got %v", f.ErrorText(err))
	}
}

func TestErrorNamesFileLineColumn(t *testing.T) {
	f := runtimetest.New(t, secret.Module)
	err := f.Run(`
def helper():
    return secret.random(length=3)

def main():
    helper()
`)
	got := f.ErrorText(err)
	first := strings.SplitN(got, "\n", 2)[0]
	want := "/work/test.star:3:25: secret.random: length must be between 12 and 1024, got 3"
	if first != want {
		t.Errorf("first line of the error:\n got %q\nwant %q", first, want)
	}
	if !strings.Contains(got, "Traceback (most recent call last):") || !strings.Contains(got, "/work/test.star:6:11: in main") {
		t.Errorf("error has no Starlark backtrace through main:\n%s", got)
	}
}

func TestUnknownKeywordNamesLine(t *testing.T) {
	f := runtimetest.New(t, secret.Module)
	err := f.Run("x = 1\nsecret.random(lenght=20)\n")
	got := f.ErrorText(err)
	if !strings.HasPrefix(got, "/work/test.star:2:14: secret.random: unexpected keyword argument \"lenght\"") {
		t.Errorf("got %q", got)
	}
}

func TestPanicBecomesScriptError(t *testing.T) {
	f := runtimetest.New(t, runtime.Module{Name: "boom", Builtins: []runtime.Builtin{{
		Name: "boom.now",
		Fn: func(thread *starlarkThread, b *starlarkBuiltin, args starlarkTuple, kwargs []starlarkTuple) (starlarkValue, error) {
			var m map[string]int
			m["x"] = 1 // nil map write: a Go panic
			return nil, nil
		},
		Doc: "boom.now()\n\nPanics.",
	}}})
	err := f.Run("def main():\n    boom.now()\n")
	got := f.ErrorText(err)
	if !strings.HasPrefix(got, "/work/test.star:2:13: boom.now: internal error in cocalcctl") {
		t.Errorf("got %q", got)
	}
	if strings.Contains(got, "goroutine") || strings.Contains(got, ".go:") {
		t.Errorf("error shows a Go stack trace:\n%s", got)
	}
}

func TestUnknownInTruthTestFails(t *testing.T) {
	f := runtimetest.New(t, secret.Module)
	f.Env.DryRun = true
	err := f.Run(`
def main():
    pw = secret.file("s/pw")
    print(pw)
    if pw:
        pass
`)
	got := f.ErrorText(err)
	if !strings.HasPrefix(got, `/work/test.star:5:8: secret.file("/work/s/pw") is known only after apply and cannot be used in a truth test`) {
		t.Errorf("got %q", got)
	}
	if !strings.Contains(f.Stderr.String(), "(known after apply)") {
		t.Errorf("print of an unknown shows %q", f.Stderr.String())
	}
}

func TestUnknownInComparisonFails(t *testing.T) {
	f := runtimetest.New(t, secret.Module)
	f.Env.DryRun = true
	err := f.Run("pw = secret.file('s/pw')\nx = pw == None\ny = [pw] < [pw]\n")
	got := f.ErrorText(err)
	if err == nil {
		t.Fatalf("comparing an unknown succeeded")
	}
	// Equality with a value of another type is false in Starlark without a
	// call to CompareSameType; ordering reaches it.
	if !strings.Contains(got, "is known only after apply and cannot be used in a comparison") {
		t.Errorf("got %q", got)
	}
}

func TestUnknownIsNeverNone(t *testing.T) {
	f := runtimetest.New(t, secret.Module)
	f.Env.DryRun = true
	f.MustRun(`
pw = secret.file("s/pw")
if type(pw) != "unknown":
    fail("type is " + type(pw))
if pw == None:
    fail("an unknown equals None")
`)
}

func TestDryRunFunction(t *testing.T) {
	f := runtimetest.New(t)
	f.Env.DryRun = true
	f.MustRun(`
if not dry_run():
    fail("dry_run() is false under --dry-run")
`)
}

func TestParseArgsKwargsTakesOthers(t *testing.T) {
	f := runtimetest.New(t)
	script, err := f.Exec("args.star", "def down(prefix = \"\", **_):\n    pass\n")
	if err != nil {
		t.Fatal(err)
	}
	fn, err := script.Function("down")
	if err != nil {
		t.Fatal(err)
	}
	kwargs, err := runtime.ParseArgs(fn, []string{"prefix=a-", "port=5123"}, "prefix", "port")
	if err != nil {
		t.Fatalf("ParseArgs: %v", err)
	}
	if _, err := runtime.ParseArgs(fn, []string{"prefx=a-"}, "prefix", "port"); err == nil || !strings.Contains(err.Error(), `takes no parameter "prefx"`) {
		t.Errorf("a misspelled name is accepted: %v", err)
	}
	if len(kwargs) != 2 || kwargs[1][1].String() != `"5123"` {
		t.Errorf("kwargs = %v, want prefix and port as text", kwargs)
	}
	if params := runtime.Params(fn); len(params) != 1 || params[0].Required {
		t.Errorf("Params = %+v, want only the optional prefix", params)
	}
}
