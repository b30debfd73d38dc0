package scripttest_test

import (
	"bytes"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/files"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/scripttest"
	"github.com/cocalcctl/cocalcctl/builtins/secret"
)

func options() scripttest.Options {
	return scripttest.Options{Predeclared: func() starlark.StringDict {
		d := runtime.Core()
		d["files"] = files.Module.Value()
		d["secret"] = secret.Module.Value()
		return d
	}}
}

func TestSampleTestsPass(t *testing.T) {
	results, err := scripttest.RunFile("testdata/sample/make_test.star", options())
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 5 {
		t.Errorf("ran %d tests, want 5", len(results))
	}
	for _, r := range results {
		if !r.Passed {
			t.Errorf("%s failed:\n%s\noutput:\n%s", r.Name, r.Error, r.Output)
		}
	}
}

func TestFailuresNameLineAndValues(t *testing.T) {
	results, err := scripttest.RunFile("testdata/failing/bad_test.star", options())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]scripttest.Result{}
	for _, r := range results {
		byName[r.Name] = r
	}

	wrong := byName["test_wrong_value"]
	if wrong.Passed || !strings.HasPrefix(wrong.Error, "testdata/failing/bad_test.star:2:14: assert.eq: got 2, want 3") {
		t.Errorf("test_wrong_value: passed=%v error:\n%s", wrong.Passed, wrong.Error)
	}

	snap := byName["test_snapshot_differs"]
	for _, want := range []string{"the steps differ from ../sample/make.golden", "- would create  files.dir", "+ created       files.dir"} {
		if !strings.Contains(snap.Error, want) {
			t.Errorf("test_snapshot_differs error does not contain %q:\n%s", want, snap.Error)
		}
	}
}

func TestReportLikeGoTest(t *testing.T) {
	var out bytes.Buffer
	failed := scripttest.Report([]string{"testdata/sample/make_test.star", "testdata/failing/bad_test.star"}, options(), &out, false, false)
	if failed != 2 {
		t.Errorf("Report counted %d failures, want 2", failed)
	}
	text := out.String()
	for _, want := range []string{"--- FAIL: testdata/failing/bad_test.star::test_wrong_value", "ok  \ttestdata/sample/make_test.star", "5 passed, 2 failed"} {
		if !strings.Contains(text, want) {
			t.Errorf("report does not contain %q:\n%s", want, text)
		}
	}
}

func TestDiscoverRecursive(t *testing.T) {
	files, err := scripttest.Discover([]string{"testdata"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"testdata/failing/bad_test.star", "testdata/sample/make_test.star"}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Errorf("Discover found %v, want %v", files, want)
	}
}
