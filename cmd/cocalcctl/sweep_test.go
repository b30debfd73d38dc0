package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cocalcctl/cocalcctl/builtins/all"
	"github.com/cocalcctl/cocalcctl/builtins/scripttest"
	"github.com/cocalcctl/cocalcctl/stdlib"
)

// TestBadArgumentsNeverPanic calls every builtin with arguments of the wrong
// kind, on the fakes, and checks that each call fails with an ordinary error
// that names the script line, never with an internal error.
func TestBadArgumentsNeverPanic(t *testing.T) {
	calls := []string{"()", "(None)", "(1)", "(\"\")", "(\"x\", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25)",
		"([], {})", "(\"x\", nonsense = 1)", "(\"x\", \"y\", \"z\")", "(-1, -1)", "(\"x\", [1], {\"a\": None})"}
	var src strings.Builder
	n := 0
	for _, m := range all.Modules() {
		for _, b := range m.Builtins {
			if b.Fn == nil {
				continue
			}
			for _, args := range calls {
				n++
				src.WriteString("def test_" + strings.ReplaceAll(b.Name, ".", "_") + "_" + strconv.Itoa(n) + "():\n")
				src.WriteString("    " + b.Name + args + "\n")
			}
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "sweep_test.star")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	results, err := scripttest.RunFile(file, scripttest.Options{Predeclared: all.Predeclared, Stdlib: stdlib.FS, Fakes: all.Fakes})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != n {
		t.Fatalf("ran %d calls, want %d", len(results), n)
	}
	for _, r := range results {
		if strings.Contains(r.Error, "internal error") {
			t.Errorf("%s: %s", r.Name, firstLineOf(r.Error))
		}
		if !r.Passed && !strings.Contains(r.Error, "sweep_test.star:") {
			t.Errorf("%s: the error names no script position: %s", r.Name, firstLineOf(r.Error))
		}
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
