package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.starlark.net/starlark"

	"github.com/cocalcctl/cocalcctl/builtins/all"
	"github.com/cocalcctl/cocalcctl/builtins/runtime"
	"github.com/cocalcctl/cocalcctl/stdlib"
)

const runUsage = `Usage: cocalcctl run SCRIPT [FUNCTION] [flags]

Runs FUNCTION of the Starlark script SCRIPT (main when not given). The
function's keyword parameters are the script's arguments: set them with
--arg NAME=VALUE. A value is converted by the type of the parameter's default:
true/false for a bool, an integer for an int, comma-separated for a list of
strings, and text for a string or a None default. Passwords are never
arguments: scripts read them from files.

Each step prints one line on stderr with its status (created, changed,
unchanged, removed, ran, drift, refused, warning) and duration; the last line
counts the statuses. Steps that delete data ask for confirmation: they need
--yes or a "yes" typed at the terminal, and without a terminal they are
refused.

Examples:
  cocalcctl run scripts/tutorial.star --dry-run
  cocalcctl run scripts/tutorial.star --arg ssl=false
  cocalcctl run scripts/tutorial.star down --yes

Flags:
`

type runOptions struct {
	args    []string
	dryRun  bool
	yes     bool
	json    bool
	verbose bool
}

func runFlags() (*pflag.FlagSet, *runOptions) {
	opts := &runOptions{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetInterspersed(true)
	fs.StringArrayVar(&opts.args, "arg", nil, "set a script argument, as NAME=VALUE (repeatable)")
	fs.BoolVar(&opts.dryRun, "dry-run", false, "read the current state and report what would change, changing nothing")
	fs.BoolVar(&opts.yes, "yes", false, "allow destructive steps (deleting containers with data, volumes, folders) without asking")
	fs.BoolVar(&opts.json, "json", false, "write the step events as JSON lines on stdout (schema in docs/output.md)")
	fs.BoolVarP(&opts.verbose, "verbose", "v", false, "print more detail about each step")
	return fs, opts
}

// parseFlags parses args with fs, printing usage on error or --help.
func parseFlags(fs *pflag.FlagSet, usageText string, args []string, std IO) error {
	// pflag would print the usage itself on --help and on errors; this
	// function prints it once, to stdout for --help.
	fs.SetOutput(std.Stderr)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fs.SetOutput(std.Stdout)
		fmt.Fprint(std.Stdout, usageText)
		fs.PrintDefaults()
		return &errPrinted{code: exitOK}
	}
	if err != nil {
		fmt.Fprintf(std.Stderr, "cocalcctl %s: %v\nRun \"cocalcctl %s --help\" for usage.\n", fs.Name(), err, fs.Name())
		return &errPrinted{code: exitUsage}
	}
	return nil
}

func runCommand(args []string, std IO) error {
	fs, opts := runFlags()
	if err := parseFlags(fs, runUsage, args, std); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fmt.Fprintf(std.Stderr, "cocalcctl run: want SCRIPT and at most one FUNCTION, got %d arguments\n\n", fs.NArg())
		fmt.Fprint(std.Stderr, runUsage)
		fs.PrintDefaults()
		return &errPrinted{code: exitUsage}
	}
	scriptPath := fs.Arg(0)
	function := "main"
	if fs.NArg() == 2 {
		function = fs.Arg(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var jsonOut = std.Stdout
	if !opts.json {
		jsonOut = nil
	}
	rep := runtime.NewReporter(std.Stderr, jsonOut, isTerminal(std.Stderr))
	env := runtime.NewEnv(ctx, rep)
	env.DryRun = opts.dryRun
	env.Yes = opts.yes
	env.Verbose = opts.verbose
	env.Stderr = std.Stderr
	if !opts.json {
		env.Stdout = std.Stdout
	}
	env.Confirm = terminalConfirm(std)
	defer env.Close()

	start := time.Now()
	err := runScript(env, scriptPath, function, opts.args)
	var usageErr *runtime.UsageError
	if errors.As(err, &usageErr) {
		return err
	}
	if err != nil {
		text := runtime.FormatError(env, err)
		fmt.Fprintf(std.Stderr, "error: %s\n", text)
		rep.Error(text)
	}
	rep.Summary(err == nil, time.Since(start))

	switch {
	case err == nil:
		return nil
	case runtime.IsVerify(err):
		return &errPrinted{code: exitBroken}
	default:
		return &errPrinted{code: exitFailed}
	}
}

func runScript(env *runtime.Env, path, function string, rawArgs []string) error {
	if !strings.HasSuffix(path, ".star") {
		return &runtime.UsageError{Msg: fmt.Sprintf("%s is not a Starlark script; a script name ends in .star", path)}
	}
	if info, err := os.Stat(path); err != nil || info.IsDir() {
		return &runtime.UsageError{Msg: fmt.Sprintf("cannot read script %s: no such file", path)}
	}

	script, err := runtime.ExecScript(env, path, all.Predeclared(), stdlib.FS, nil)
	if err != nil {
		return err
	}
	fn, err := script.Function(function)
	if err != nil {
		return err
	}
	kwargs, err := runtime.ParseArgs(fn, rawArgs, script.SharedParams()...)
	if err != nil {
		return err
	}

	result, err := script.Call(fn, kwargs)
	if err != nil {
		return err
	}
	if result != starlark.None && env.Verbose {
		fmt.Fprintf(env.Stderr, "%s returned %s\n", function, env.Redact(runtime.RenderValue(result)))
	}
	return nil
}
