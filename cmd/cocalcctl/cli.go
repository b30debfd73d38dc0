package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/cocalcctl/cocalcctl/builtins/runtime"
)

// Exit codes of cocalcctl.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitBroken = 3
)

// IO is the standard streams of one invocation.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

const usage = `cocalcctl runs Starlark scripts that set up CoCalc (cocalc-docker) with an
external PostgreSQL database: a private CA and certificates, a Docker network,
a PostgreSQL container, the role and database, and the CoCalc container.
Every step checks the current state first, so running a script twice changes
nothing the second time.

Usage:
  cocalcctl run SCRIPT [FUNCTION] [--arg NAME=VALUE]... [--dry-run] [--yes] [--json] [-v]
  cocalcctl test [PATH]... [--run REGEXP] [-v] [--json] [--update]
  cocalcctl doc [MODULE[.NAME]] [--markdown]
  cocalcctl version

Commands:
  run      run a function of a script (main by default)
  test     run the test_* functions of *_test.star files against fakes
  doc      print the reference of the builtins
  version  print the version

Run "cocalcctl COMMAND --help" for the flags of a command.

Exit codes: 0 success; 1 script or step failure, a refused destructive step
included; 2 usage error; 3 a verification found the system broken.
`

// Main runs cocalcctl with args and returns the exit code.
func Main(args []string, std IO) int {
	if len(args) == 0 {
		fmt.Fprint(std.Stderr, usage)
		return exitUsage
	}

	var err error
	switch args[0] {
	case "run":
		err = runCommand(args[1:], std)
	case "test":
		err = testCommand(args[1:], std)
	case "doc":
		err = docCommand(args[1:], std)
	case "version", "--version":
		err = versionCommand(args[1:], std)
	case "help", "-h", "--help":
		fmt.Fprint(std.Stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(std.Stderr, "cocalcctl: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return exitCode(err, std)
}

// errPrinted marks an error whose message the command already printed.
type errPrinted struct{ code int }

func (e *errPrinted) Error() string { return fmt.Sprintf("exit %d", e.code) }

func exitCode(err error, std IO) int {
	if err == nil {
		return exitOK
	}
	var printed *errPrinted
	if errors.As(err, &printed) {
		return printed.code
	}
	var usageErr *runtime.UsageError
	if errors.As(err, &usageErr) {
		fmt.Fprintf(std.Stderr, "cocalcctl: %s\n", usageErr.Msg)
		return exitUsage
	}
	fmt.Fprintf(std.Stderr, "cocalcctl: %s\n", err)
	if runtime.IsVerify(err) {
		return exitBroken
	}
	return exitFailed
}

// isTerminal reports whether r is a terminal, so a prompt can be answered.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalConfirm returns a Confirm function that asks on stderr and reads
// one line from stdin, or nil when stdin is not a terminal.
func terminalConfirm(std IO) func(string) bool {
	if !isTerminal(std.Stdin) {
		return nil
	}
	reader := bufio.NewReader(std.Stdin)
	return func(question string) bool {
		fmt.Fprint(std.Stderr, question)
		line, err := reader.ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(std.Stderr)
			return false
		}
		return strings.EqualFold(strings.TrimSpace(line), "yes")
	}
}
