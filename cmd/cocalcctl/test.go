package main

import "github.com/cocalcctl/cocalcctl/builtins/runtime"

func testCommand(args []string, std IO) error {
	return &runtime.UsageError{Msg: "test is not built yet"}
}
