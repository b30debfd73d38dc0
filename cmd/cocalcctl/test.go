package main

import (
	"fmt"
	"regexp"

	"github.com/spf13/pflag"

	"github.com/cocalcctl/cocalcctl/builtins/all"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/builtins/scripttest"
	"github.com/cocalcctl/cocalcctl/stdlib"
)

const testUsage = `Usage: cocalcctl test [PATH]... [flags]

Runs the test_* functions of every *_test.star file under PATH (folders are
searched recursively; the current folder when no PATH is given). Each test
runs on a fresh thread against in-memory fakes of the Docker Engine,
PostgreSQL, the file system and the clock, so nothing on this machine is
changed and no Docker Engine or database is needed. Test files see the
assert and testing modules besides the usual ones (cocalcctl doc assert,
cocalcctl doc testing; guide in docs/testing.md).

Output follows go test: a FAIL line with the error for each failed test
(every test with -v), a line per file, and a closing count. Exit code 1 when
any test fails, 2 on usage errors.

Examples:
  cocalcctl test scripts/
  cocalcctl test scripts/tutorial_test.star --run 'ssl' -v
  cocalcctl test scripts/ --update      # rewrite golden plan snapshots

Flags:
`

func testCommand(args []string, std IO) error {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	runPattern := fs.String("run", "", "run only the tests whose name (or FILE::NAME) matches this regular expression")
	verbose := fs.BoolP("verbose", "v", false, "print every test and its output, not only failures")
	jsonOut := fs.Bool("json", false, "write one JSON object per test on stdout")
	update := fs.Bool("update", false, "rewrite the golden files of testing.snapshot instead of comparing")
	if err := parseFlags(fs, testUsage, args, std); err != nil {
		return err
	}

	opts := scripttest.Options{
		Update:      *update,
		Predeclared: all.Predeclared,
		Stdlib:      stdlib.FS,
		Fakes:       all.Fakes,
	}
	if *runPattern != "" {
		re, err := regexp.Compile(*runPattern)
		if err != nil {
			return &runtime.UsageError{Msg: fmt.Sprintf("--run %q: %v", *runPattern, err)}
		}
		opts.Run = re
	}

	files, err := scripttest.Discover(fs.Args())
	if err != nil {
		return &runtime.UsageError{Msg: err.Error()}
	}
	if len(files) == 0 {
		return &runtime.UsageError{Msg: "no *_test.star files found"}
	}
	if failed := scripttest.Report(files, opts, std.Stdout, *verbose, *jsonOut); failed > 0 {
		return &errPrinted{code: exitFailed}
	}
	return nil
}
