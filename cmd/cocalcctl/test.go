package main

import (
	"github.com/spf13/pflag"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

const testUsage = `Usage: cocalcctl test [PATH]... [flags]

Runs the test_* functions of every *_test.star file under PATH (folders are
searched recursively; the current folder when no PATH is given) against
in-memory fakes of the Docker Engine, PostgreSQL, the file system and the
clock. Nothing on this machine is changed.

Flags:
`

func testCommand(args []string, std IO) error {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	if err := parseFlags(fs, testUsage, args, std); err != nil {
		return err
	}
	return &runtime.UsageError{Msg: "test: script tests are not available in this build yet"}
}
